/** The README.md an export carries: how to build, apply and call it, and what did not map. */
import { CONTEXT } from './containerfile';
import { type ExportPlan, GPU_PRODUCT_LABEL, GPU_PRODUCT_LABELS, MAPPING_TABLE, NOT_MAPPED_TABLE } from './mapping';

export function markdownTable(head: string[], rows: readonly (readonly string[])[]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

export function exportReadme(plan: ExportPlan, manifestsFile: string): string {
  const ns = plan.namespace ? ` -n ${plan.namespace}` : '';
  const knative = plan.target === 'knative';
  const endpoint = plan.endpointPaths[0] ?? '/';
  const url = knative
    ? `$(kubectl get ksvc ${plan.name}${ns} -o jsonpath='{.status.url}')`
    : 'http://localhost:8080';
  const sections = [
    `# ${plan.name}: ${plan.className} on ${knative ? 'Knative Serving' : 'Kubernetes'}`,
    '',
    `Exported by \`kiln export\` from the App's configuration. The container serves the app with Kiln's HTTP serve mode`
      + ' (`python -m kiln_harness.serve`) in fal\'s sync shape: `POST /{path}` with the JSON input, the output or'
      + ' `{"detail": ...}` with fal\'s status (422, 404, 500, 503 on CUDA out of memory, an `AppException`\'s own),'
      + ' `x-fal-request-id`, readiness at `GET /health`.',
    '',
    'Nothing here has been run on a cluster by Kiln: the manifests were checked offline against the Kubernetes'
      + ' and Knative schemas (`kiln export --check`).',
    '',
    '## Build and push the image',
    '',
    '```sh',
    `docker build -f Containerfile -t ${plan.image} .`,
    `docker push ${plan.image}`,
    '```',
    '',
    `Base image: \`${plan.baseImage}\` (${plan.machineType.kind === 'gpu' ? 'a GPU type' : 'a CPU type'}; \`kiln export --base-image\` picks another`
      + ' with `python3` and `pip`).' + (plan.requirements.length ? ' The requirements are installed at build time.' : ''),
    '',
    '## Apply',
    '',
    '```sh',
  ];
  if (plan.secret) {
    sections.push(
      `# The app's secrets: Kiln never writes their values. Create the Secret once:`,
      `kubectl create secret generic ${plan.secret.name}${ns} ${plan.secret.keys.map((key) => `--from-literal=${key}=...`).join(' ')}`,
    );
  }
  sections.push(`kubectl apply${ns} -f ${CONTEXT.manifests}/${manifestsFile}`);
  if (knative) sections.push(`kubectl wait${ns} --for=condition=Ready ksvc/${plan.name} --timeout=10m`);
  else sections.push(`kubectl rollout status${ns} deployment/${plan.name}`, `kubectl port-forward${ns} service/${plan.name} 8080:80 &`);
  sections.push('```', '');
  if (plan.gpuProduct) {
    const others = GPU_PRODUCT_LABELS[plan.machineType.name]!.slice(1);
    sections.push(
      `The pod runs on nodes labelled \`${GPU_PRODUCT_LABEL}=${plan.gpuProduct}\` by NVIDIA's GPU feature discovery`
        + ' (part of the GPU operator) and asks for `nvidia.com/gpu`.'
        + (others.length ? ` The same GPU on other boards is labelled ${others.map((label) => `\`${label}\``).join(', ')}:` : '')
        + ` \`kubectl get nodes -L ${GPU_PRODUCT_LABEL}\` shows what your nodes say; edit the nodeSelector to match.`,
      '',
    );
  }
  if (plan.volumes.length) {
    sections.push(
      `Volumes: ${plan.volumes.map(({ claim, mountPath }) => `\`${claim}\` at \`${mountPath}\``).join(', ')}, each a ReadWriteMany`
        + ' PersistentVolumeClaim of the cluster\'s default StorageClass; it must support ReadWriteMany (NFS, CephFS, EFS, Filestore…)'
        + ' so every pod mounts the same data. Set `storageClassName` and the size in the manifest to suit.',
      '',
    );
  }
  sections.push(
    '## Call it',
    '',
    '```sh',
    `curl -X POST ${url}${endpoint} -H 'content-type: application/json' -d '{...}'`,
    '```',
    '',
    'With the official JavaScript client, the service is its proxy: it sends each call there with the fal URL it meant'
      + ' in `x-fal-target-url`, and the container serves the endpoint named after `owner/app`:',
    '',
    '```js',
    'import { createFalClient } from "@fal-ai/client";',
    `const fal = createFalClient({ proxyUrl: { url: "${knative ? `https://${plan.name}.${plan.namespace ?? 'default'}.example.com` : 'http://localhost:8080'}", when: "always" } });`,
    `const { data, requestId } = await fal.run("my-team/${plan.name}${endpoint === '/' ? '' : endpoint}", { input: { /* ... */ } });`,
    '```',
    '',
    '`fal.subscribe` and `fal.queue` use the queue API, which the container does not serve.',
    '',
    '## What maps to what',
    '',
    markdownTable(['App', 'Knative Service', 'Kubernetes'], MAPPING_TABLE),
    '',
    '## What does not map',
    '',
  );
  if (plan.warnings.length) {
    sections.push('For this app:', '', ...plan.warnings.map(({ key, message }) => `- **${key}**: ${message}`), '', 'In general:', '');
  }
  sections.push(markdownTable(['What', 'Instead'], NOT_MAPPED_TABLE), '');
  return sections.join('\n');
}
