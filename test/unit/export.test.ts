import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import {
  checkExport,
  checkManifests,
  CPU_BASE_IMAGE,
  ExportError,
  type ExportOptions,
  type ExportResult,
  exportApp,
  GPU_BASE_IMAGE,
  MAPPING_TABLE,
  NOT_MAPPED_TABLE,
  renderManifests,
  writeExport,
} from '../../src/export';
import { markdownTable } from '../../src/export/readme';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'kiln-export-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
function appFile(source: string): string {
  const folder = path.join(scratch, `app-${++counter}`);
  mkdirSync(folder);
  const file = path.join(folder, 'app.py');
  writeFileSync(file, source);
  return file;
}

type Json = Record<string, any>;
const find = (result: ExportResult, kind: string): Json => {
  const found = result.manifests.find((manifest) => manifest.kind === kind);
  assert.ok(found, `no ${kind} in ${result.manifests.map((manifest) => manifest.kind).join(', ')}`);
  return found as Json;
};
const warningKeys = (result: ExportResult) => result.plan.warnings.map((warning) => warning.key);

const FULL_APP = `import fal


class TextToImage(fal.App, keep_alive=300, name="txt2img"):
    machine_type = "GPU-H100"
    num_gpus = 2
    min_concurrency = 2
    max_concurrency = 10
    max_multiplexing = 4
    request_timeout = 120
    startup_timeout = 900
    requirements = ["numpy==2.1.3", "pillow>=10"]
    env = {"MODEL_VERSION": "v2.0"}
    secrets = ["HF_TOKEN"]
    volumes = {"/models": fal.Volume("model_cache")}

    def setup(self):
        self.ready = True

    @fal.endpoint("/generate")
    def generate(self, prompt: str, steps: int = 30) -> dict:
        return {"prompt": prompt}

    @fal.endpoint("/health")
    def health(self) -> dict:
        return {"ok": self.ready}
`;

const knativeOptions: ExportOptions = { target: 'knative', image: 'registry.example.com/txt2img:1', namespace: 'models' };

describe('kiln export: the Knative mapping', async () => {
  const result = await exportApp(appFile(FULL_APP), undefined, knativeOptions);
  const service = find(result, 'Service');
  const template = service.spec.template;
  const container = template.spec.containers[0];
  const env = Object.fromEntries(container.env.map((item: Json) => [item.name, item.value ?? item.valueFrom]));

  it('names the Service after the app, in the namespace given', () => {
    assert.equal(service.apiVersion, 'serving.knative.dev/v1');
    assert.deepEqual([service.metadata.name, service.metadata.namespace], ['txt2img', 'models']);
    assert.equal(container.image, 'registry.example.com/txt2img:1');
  });

  it('maps min/max_concurrency, keep_alive and startup_timeout to the revision annotations', () => {
    assert.deepEqual(template.metadata.annotations, {
      'autoscaling.knative.dev/min-scale': '2',
      'autoscaling.knative.dev/max-scale': '10',
      'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '300s',
      'serving.knative.dev/progress-deadline': '900s',
    });
  });

  it('maps max_multiplexing to containerConcurrency and request_timeout to timeoutSeconds', () => {
    assert.equal(template.spec.containerConcurrency, 4);
    assert.equal(template.spec.timeoutSeconds, 120);
    assert.equal(env.KILN_MAX_MULTIPLEXING, '4');
    assert.equal(env.KILN_GRACE_SECONDS, '120');
  });

  it('asks for num_gpus GPUs on nodes GPU feature discovery labels with the machine type\'s product', () => {
    assert.deepEqual(container.resources.limits, { 'nvidia.com/gpu': 2 });
    assert.deepEqual(template.spec.nodeSelector, { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' });
  });

  it('passes env as values and secrets as secretKeyRef to a Secret it does not write', () => {
    assert.equal(env.MODEL_VERSION, 'v2.0');
    assert.deepEqual(env.HF_TOKEN, { secretKeyRef: { name: 'txt2img-secrets', key: 'HF_TOKEN' } });
    assert.ok(!result.manifests.some((manifest) => manifest.kind === 'Secret'));
    assert.match(result.files['README.md']!, /kubectl create secret generic txt2img-secrets -n models --from-literal=HF_TOKEN=\.\.\./);
  });

  it('mounts each volume as a ReadWriteMany claim at its path', () => {
    const claim = find(result, 'PersistentVolumeClaim');
    assert.equal(claim.metadata.name, 'model-cache');
    assert.deepEqual(claim.spec.accessModes, ['ReadWriteMany']);
    assert.deepEqual(container.volumeMounts, [{ name: 'model-cache', mountPath: '/models' }]);
    assert.deepEqual(template.spec.volumes, [{ name: 'model-cache', persistentVolumeClaim: { claimName: 'model-cache' } }]);
  });

  it('probes readiness at /health, where serve mode calls the app\'s health endpoint', () => {
    assert.deepEqual(container.readinessProbe, { httpGet: { path: '/health', port: 8080 } });
    assert.match(result.files.Containerfile!, /KILN_HEALTH_ENDPOINT=\/health/);
  });

  it('bakes the requirements into the image and runs as a non-root user', () => {
    assert.equal(result.files['requirements.txt'], 'numpy==2.1.3\npillow>=10\n');
    assert.deepEqual(container.securityContext, { runAsNonRoot: true, runAsUser: 10001, allowPrivilegeEscalation: false });
  });

  it('says what did not map: the queue API, and the feature flags Knative needs', () => {
    assert.deepEqual(warningKeys(result), ['queue API', 'machine_type', 'volumes']);
  });

  it('writes manifests the Kubernetes and Knative schemas accept', async () => {
    assert.deepEqual(await checkExport(result), []);
  });
});

describe('kiln export: the plain Kubernetes mapping', async () => {
  const result = await exportApp(appFile(FULL_APP), undefined, { ...knativeOptions, target: 'kubernetes' });
  const deployment = find(result, 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const autoscaler = find(result, 'HorizontalPodAutoscaler');

  it('scales a Deployment between min and max_concurrency with an autoscaling/v2 HPA, keep_alive as its scale-down window', () => {
    assert.equal(autoscaler.apiVersion, 'autoscaling/v2');
    assert.deepEqual(autoscaler.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'txt2img' });
    assert.deepEqual([deployment.spec.replicas, autoscaler.spec.minReplicas, autoscaler.spec.maxReplicas], [2, 2, 10]);
    assert.equal(autoscaler.spec.behavior.scaleDown.stabilizationWindowSeconds, 300);
  });

  it('gives setup() startup_timeout through a startup probe, and requests the grace period plus teardown time', () => {
    assert.deepEqual(container.startupProbe, { httpGet: { path: '/health', port: 'http' }, periodSeconds: 5, failureThreshold: 180 });
    assert.equal(pod.terminationGracePeriodSeconds, 150);
  });

  it('keeps the GPU, env, secret and volume mapping of the Knative Service', () => {
    assert.deepEqual(container.resources.limits, { 'nvidia.com/gpu': 2 });
    assert.deepEqual(pod.nodeSelector, { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' });
    assert.ok(container.env.some((item: Json) => item.name === 'HF_TOKEN' && item.valueFrom.secretKeyRef.name === 'txt2img-secrets'));
    assert.deepEqual(container.volumeMounts, [{ name: 'model-cache', mountPath: '/models' }]);
  });

  it('puts a Service in front of the pods on port 80', () => {
    const service = find(result, 'Service');
    assert.deepEqual(service.spec.ports, [{ name: 'http', port: 80, targetPort: 'http' }]);
    assert.deepEqual(service.spec.selector, { 'app.kubernetes.io/name': 'txt2img' });
  });

  it('warns that the HPA scales on CPU and that request_timeout belongs to the Ingress', () => {
    assert.deepEqual(warningKeys(result), ['queue API', 'max_multiplexing', 'request_timeout']);
  });

  it('writes manifests the Kubernetes schemas accept', async () => {
    assert.deepEqual(await checkExport(result), []);
  });
});

describe('kiln export: what does not map', () => {
  it('keeps one pod and a maximum of 10 on plain Kubernetes when the app scales to zero without a maximum', async () => {
    const result = await exportApp(appFile('import fal\n\nclass A(fal.App, keep_alive=7200):\n    @fal.endpoint("/")\n    def run(self) -> dict:\n        return {}\n'),
      undefined, { target: 'kubernetes' });
    const autoscaler = find(result, 'HorizontalPodAutoscaler');
    assert.deepEqual([autoscaler.spec.minReplicas, autoscaler.spec.maxReplicas, autoscaler.spec.behavior.scaleDown.stabilizationWindowSeconds], [1, 10, 3600]);
    assert.deepEqual(warningKeys(result), ['image', 'queue API', 'min_concurrency', 'max_concurrency', 'max_multiplexing', 'keep_alive']);
    assert.equal(find(result, 'Deployment').spec.template.spec.containers[0].image, 'a:latest');
  });

  it('on Knative: keep_alive below the stable window, concurrency_buffer and fallback machine types are warnings', async () => {
    const result = await exportApp(appFile(`import fal

class B(fal.App, keep_alive=0, concurrency_buffer=2):
    machine_type = ["M", "L"]
    request_timeout = 900

    @fal.endpoint("/")
    def run(self) -> dict:
        return {}
`), undefined, { target: 'knative', image: 'b:1' });
    assert.deepEqual(warningKeys(result), ['machine_type', 'queue API', 'concurrency_buffer', 'keep_alive', 'request_timeout']);
    const service = find(result, 'Service');
    assert.equal(service.spec.template.metadata.annotations['autoscaling.knative.dev/scale-to-zero-pod-retention-period'], '0s');
    assert.equal(service.spec.template.metadata.annotations['autoscaling.knative.dev/max-scale'], undefined, 'no max_concurrency: no limit');
    // The first type, M: 2 cores and 2 GB, no GPU and no nodeSelector.
    const container = service.spec.template.spec.containers[0];
    assert.deepEqual(container.resources, { requests: { cpu: '2000m', memory: '2048Mi' }, limits: { memory: '2048Mi' } });
    assert.equal(service.spec.template.spec.nodeSelector, undefined);
  });

  it('the README lists the app\'s own warnings and the general table', async () => {
    const result = await exportApp(appFile(FULL_APP), undefined, { target: 'kubernetes' });
    const readme = result.files['README.md']!;
    assert.match(readme, /- \*\*min_concurrency\*\*|- \*\*max_multiplexing\*\*: A HorizontalPodAutoscaler scales on CPU/);
    assert.ok(readme.includes(markdownTable(['What', 'Instead'], NOT_MAPPED_TABLE)));
  });
});

describe('kiln export: the Containerfile', () => {
  const fileOf = async (source: string, options: Partial<ExportOptions> = {}) =>
    (await exportApp(appFile(source), undefined, { target: 'knative', image: 'x:1', ...options })).files.Containerfile!;
  const cpuApp = 'import fal\n\nclass Cpu(fal.App):\n    machine_type = "XS"\n\n    @fal.endpoint("/")\n    def run(self) -> dict:\n        return {}\n';

  it('builds a GPU type on CUDA\'s runtime image, with Python added and the requirements installed', async () => {
    const text = await fileOf(FULL_APP);
    assert.match(text, new RegExp(`^FROM ${GPU_BASE_IMAGE.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(text, /apt-get install -y --no-install-recommends python3 python3-pip/);
    assert.match(text, /COPY requirements\.txt \/tmp\/requirements\.txt\nRUN python3 -m pip install -r \/tmp\/requirements\.txt/);
  });

  it('builds a CPU type on a slim Python image, with nothing to install when there are no requirements', async () => {
    const text = await fileOf(cpuApp);
    assert.match(text, new RegExp(`^FROM ${CPU_BASE_IMAGE.replace(/\./g, '\\.')}$`, 'm'));
    assert.doesNotMatch(text, /apt-get|pip install/);
  });

  it('takes another base image, which brings its own Python', async () => {
    const text = await fileOf(FULL_APP, { baseImage: 'pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime' });
    assert.match(text, /^FROM pytorch\/pytorch:2\.5\.1-cuda12\.4-cudnn9-runtime$/m);
    assert.doesNotMatch(text, /apt-get/);
  });

  it('copies the harness and the app, runs as a non-root user, and serves as its entrypoint', async () => {
    const text = await fileOf(cpuApp);
    assert.match(text, /^COPY kiln\/ \/opt\/kiln\/$/m);
    assert.match(text, /^COPY app\/ \/app\/$/m);
    assert.match(text, /KILN_APP_FILE=\/app\/app\.py/);
    assert.match(text, /KILN_APP_CLASS=Cpu/);
    assert.match(text, /^USER 10001$/m);
    assert.match(text, /^ENTRYPOINT \["python3", "-m", "kiln_harness\.serve"\]$/m);
    assert.ok(text.indexOf('USER 10001') > text.indexOf('COPY app/'), 'the files are copied before the user changes');
  });
});

describe('kiln export: schema checks', () => {
  for (const target of ['knative', 'kubernetes'] as const) {
    it(`every example gives ${target} manifests the schemas accept`, async () => {
      const examples = readdirSync(EXAMPLES).filter((name) => name.endsWith('.py'));
      assert.ok(examples.length >= 9);
      for (const name of examples) {
        const result = await exportApp(path.join(EXAMPLES, name), undefined, { target, image: `registry.example.com/${name}:1` });
        assert.deepEqual(await checkExport(result), [], name);
        const documents = parseAllDocuments(result.files[`manifests/${result.manifestsFile}`]!) as ReturnType<typeof parseAllDocuments> & unknown[];
        assert.equal(documents.length, result.manifests.length, `${name}: one YAML document per object`);
      }
    });
  }

  it('catches wrong types and a bad quantity, naming the object', async () => {
    const result = await exportApp(appFile(FULL_APP), undefined, knativeOptions);
    const service = structuredClone(find(result, 'Service'));
    service.spec.template.spec.containerConcurrency = 'four';
    service.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    service.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu'] = 'two GPUs';
    const problems = await checkManifests(renderManifests([service as never]));
    const text = problems.map((problem) => `${problem.object}: ${problem.message}`).join('\n');
    assert.match(text, /Service\/txt2img: spec\/template\/spec\/containerConcurrency must be integer/);
    assert.match(text, /Service\/txt2img: spec\/template\/spec\/containers\/0\/ports\/0\/containerPort must be integer/);
    assert.match(text, /nvidia\.com~1gpu must match format "quantity"/);
  });

  it('catches a broken HPA, an unknown kind and YAML that does not parse', async () => {
    const result = await exportApp(appFile(FULL_APP), undefined, { target: 'kubernetes' });
    const autoscaler = structuredClone(find(result, 'HorizontalPodAutoscaler'));
    delete autoscaler.spec.maxReplicas;
    const problems = await checkManifests(`${renderManifests([autoscaler as never])}---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\nkey: [unclosed\n`);
    assert.deepEqual(problems.map((problem) => problem.object), ['HorizontalPodAutoscaler/txt2img', 'Widget/w', 'document 3']);
    assert.match(problems[0]!.message, /must have required property maxReplicas/);
  });
});

describe('kiln export: reading the app', () => {
  it('refuses an app with configuration errors, naming file and line', async () => {
    const file = appFile('import fal\n\nclass Bad(fal.App):\n    machine_type = "GPU-A1000"\n\n    @fal.endpoint("/")\n    def run(self) -> dict:\n        return {}\n');
    await assert.rejects(exportApp(file, undefined, { target: 'knative' }), (error: Error) =>
      error instanceof ExportError && error.message.includes(`${file}:4:20: unknown-machine-type`));
  });

  it('asks which class when a file has several, and takes FILE::Class', async () => {
    const file = appFile('import fal\n\nclass One(fal.App):\n    @fal.endpoint("/")\n    def run(self) -> dict:\n        return {}\n\nclass Two(fal.App):\n    @fal.endpoint("/")\n    def run(self) -> dict:\n        return {}\n');
    await assert.rejects(exportApp(file, undefined, { target: 'knative' }), /defines One, Two; choose one as .*::One/);
    await assert.rejects(exportApp(file, 'Three', { target: 'knative' }), /no fal.App class named Three; it defines One, Two/);
    assert.equal((await exportApp(file, 'Two', { target: 'knative' })).plan.className, 'Two');
  });

  it('takes the local modules the app imports, as a deploy does, and the harness', async () => {
    const result = await exportApp(path.join(ROOT, 'test', 'fixtures', 'apps', 'local_import', 'app.py'), undefined, { target: 'knative' });
    const appFiles = Object.keys(result.files).filter((name) => name.startsWith('app/'));
    assert.ok(appFiles.length > 1, appFiles.join(', '));
    for (const name of ['kiln/kiln_harness/serve.py', 'kiln/kiln_harness/served_app.py', 'kiln/fal/__init__.py', 'kiln/kiln_worker.py']) {
      assert.ok(name in result.files, name);
    }
  });
});

describe('kiln export: writing the folder', () => {
  it('writes every file, replaces an earlier export whole, and refuses a folder holding anything else', async () => {
    const result = await exportApp(appFile(FULL_APP), undefined, knativeOptions);
    const dir = path.join(scratch, 'out');
    writeExport(dir, result);
    assert.equal(parse(readFileSync(path.join(dir, 'manifests', 'knative.yaml'), 'utf8').split('---\n').at(-1)!).kind, 'Service');
    writeFileSync(path.join(dir, 'app', 'stale.py'), '');
    writeExport(dir, result);
    assert.ok(!existsSync(path.join(dir, 'app', 'stale.py')));
    const other = path.join(scratch, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'notes.txt'), 'mine');
    assert.throws(() => writeExport(other, result), /not empty and holds no earlier export/);
  });
});

describe('the project README', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  it('shows the mapping and what does not map, as the export does', () => {
    assert.ok(readme.includes(markdownTable(['App', 'Knative Service', 'Kubernetes'], MAPPING_TABLE)), 'mapping table');
    assert.ok(readme.includes(markdownTable(['What', 'Instead'], NOT_MAPPED_TABLE)), 'not-mapped table');
  });
});
