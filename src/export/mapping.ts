/**
 * From an App's configuration to what a cluster runs: one plan that the Knative Service, the
 * plain Kubernetes objects, the Containerfile and the README are all rendered from. Pure.
 *
 * The tables at the end are the mapping as users read it (the export's README and the project's
 * README show them); `planExport` is the same mapping as code, and the warnings it returns are the
 * rows of NOT_MAPPED that the app at hand meets.
 */
import { type AppConfig, findMachineType, type MachineType } from '../appconfig';

export type ExportTarget = 'knative' | 'kubernetes';
export const EXPORT_TARGETS: readonly ExportTarget[] = ['knative', 'kubernetes'];

export interface ExportOptions {
  target: ExportTarget;
  /** The image the manifests run (default `<name>:latest`, which a cluster can rarely pull). */
  image?: string;
  namespace?: string;
  /** Replaces the base image chosen by machine type. */
  baseImage?: string;
}

/** Python for CPU types; CUDA's runtime (cuDNN included) for GPU types, Python added on top. */
export const CPU_BASE_IMAGE = 'python:3.11-slim';
export const GPU_BASE_IMAGE = 'nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04';

/** The port serve mode listens on ($PORT, which Knative sets to the containerPort). */
export const CONTAINER_PORT = 8080;
/** The image's non-root user. */
export const CONTAINER_UID = 10001;
/** Where the app's own files go in the image, and the harness with the fal package. */
export const APP_DIR = '/app';
export const HARNESS_DIR = '/opt/kiln';
/** What a ReadWriteMany claim asks for; the user resizes it in the manifest. */
export const VOLUME_SIZE = '10Gi';
/** Seconds in-flight requests get after SIGTERM when the app sets no request_timeout. */
export const DEFAULT_GRACE_SECONDS = 30;
/** Teardown and the preStop pause on top of the grace period, before Kubernetes kills the pod. */
export const TERMINATION_MARGIN_SECONDS = 30;
/** The largest timeoutSeconds a default Knative install accepts (max-revision-timeout-seconds). */
export const KNATIVE_MAX_TIMEOUT_SECONDS = 600;
/** Knative's default stable window: a pod is not taken away sooner after its last request. */
export const KNATIVE_STABLE_WINDOW_SECONDS = 60;
/** An HPA needs a maximum; this one when the app sets no max_concurrency. */
export const DEFAULT_MAX_REPLICAS = 10;
/** HorizontalPodAutoscaler's scale-down stabilization window is at most an hour. */
export const HPA_MAX_STABILIZATION_SECONDS = 3600;
/** Average CPU use the plain-Kubernetes HPA keeps pods at (it cannot see requests in flight). */
export const HPA_CPU_UTILIZATION = 70;

/**
 * The `nvidia.com/gpu.product` label NVIDIA's GPU feature discovery puts on a node (the NVML
 * product name, spaces as dashes): the nodeSelector uses the first, the SXM board clouds offer
 * most; the others are the same GPU on other boards, for clusters that have those.
 */
export const GPU_PRODUCT_LABELS: Record<string, readonly string[]> = {
  'GPU-T4': ['Tesla-T4'],
  'GPU-A10G': ['NVIDIA-A10G'],
  'GPU-A100': ['NVIDIA-A100-SXM4-40GB', 'NVIDIA-A100-PCIE-40GB'],
  'GPU-A100-80GB': ['NVIDIA-A100-SXM4-80GB', 'NVIDIA-A100-80GB-PCIe'],
  'GPU-H100': ['NVIDIA-H100-80GB-HBM3', 'NVIDIA-H100-PCIe', 'NVIDIA-H100-NVL'],
  'GPU-H200': ['NVIDIA-H200', 'NVIDIA-H200-NVL'],
  'GPU-B200': ['NVIDIA-B200'],
};
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

export interface ExportWarning {
  /** The App key (or feature) that does not map as it is. */
  key: string;
  message: string;
}

export interface EnvVar {
  name: string;
  value: string;
}

export interface VolumeMount {
  /** The PersistentVolumeClaim's name: the fal.Volume's name, as Kubernetes names go. */
  claim: string;
  mountPath: string;
  volume: string;
}

export interface ExportPlan {
  target: ExportTarget;
  name: string;
  namespace: string | undefined;
  className: string;
  image: string;
  baseImage: string;
  /** True when the base image is CUDA's and needs Python installed. */
  installPython: boolean;
  machineType: MachineType;
  /** The entry file, relative to the app's folder. */
  entry: string;
  requirements: string[];
  /** Env of the container: the app's, then serve mode's own settings. */
  env: EnvVar[];
  /** The Secret the user creates, and the app's secrets as its keys (null: the app has none). */
  secret: { name: string; keys: string[] } | null;
  volumes: VolumeMount[];
  resources: { requests: Record<string, string>; limits: Record<string, string | number> };
  gpuProduct: string | null;
  minScale: number;
  maxScale: number | null;
  keepAlive: number;
  maxMultiplexing: number;
  requestTimeout: number | null;
  startupTimeout: number | null;
  healthEndpoint: string | null;
  /** The paths callers POST to (the health endpoint aside). */
  endpointPaths: string[];
  graceSeconds: number;
  warnings: ExportWarning[];
}

/** A Kubernetes object name (RFC 1123 label): lower case, digits and dashes, at most 63. */
export function kubernetesName(text: string): string {
  const name = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return name || 'kiln';
}

export function planExport(config: AppConfig, entry: string, options: ExportOptions): ExportPlan {
  const warnings: ExportWarning[] = [];
  const warn = (key: string, message: string) => warnings.push({ key, message });
  const name = kubernetesName(config.name);
  const machineType = findMachineType(config.machineTypes[0]!)!;
  const gpu = machineType.kind === 'gpu';
  const knative = options.target === 'knative';

  if (config.machineTypes.length > 1) {
    warn('machine_type', `machine_type lists ${config.machineTypes.join(', ')}; a pod asks for one kind of node, so the export uses ${machineType.name}. Edit the nodeSelector to pick another.`);
  }
  if (!options.image) {
    warn('image', `No --image given: the manifests run ${name}:latest. Push the image to a registry your cluster pulls from and export again with --image REGISTRY/${name}:TAG.`);
  }
  warn('queue API', 'The container serves fal\'s sync calls (POST /{path}); the queue API (/queue/..., status, cancel) stays with the Kiln runtime.');
  if (config.concurrencyBuffer > 0) {
    warn('concurrency_buffer', `concurrency_buffer=${config.concurrencyBuffer} has no ${knative ? 'Knative' : 'Kubernetes'} equivalent${knative ? '; lower autoscaling.knative.dev/target-utilization-percentage to keep spare capacity' : ''}.`);
  }

  const maxScale = config.maxConcurrency ?? (knative ? null : DEFAULT_MAX_REPLICAS);
  let minScale = config.minConcurrency;
  if (knative && config.keepAlive < KNATIVE_STABLE_WINDOW_SECONDS) {
    warn('keep_alive', `keep_alive=${config.keepAlive} s is below Knative's stable window (${KNATIVE_STABLE_WINDOW_SECONDS} s by default): the last pod stays at least that long after its last request. Set autoscaling.knative.dev/window (6 s at least) to scale to zero sooner.`);
  }
  if (!knative) {
    if (minScale === 0) {
      minScale = 1;
      warn('min_concurrency', 'min_concurrency=0: a HorizontalPodAutoscaler cannot scale to zero (minReplicas is at least 1 without the HPAScaleToZero feature gate); one pod stays up. Use --target knative to scale to zero.');
    }
    if (config.maxConcurrency === null) {
      warn('max_concurrency', `max_concurrency is not set; a HorizontalPodAutoscaler needs a maximum, so maxReplicas=${DEFAULT_MAX_REPLICAS}.`);
    }
    warn('max_multiplexing', `A HorizontalPodAutoscaler scales on CPU (${HPA_CPU_UTILIZATION}% of requests), not on requests in flight; max_multiplexing=${config.maxMultiplexing} is enforced in each pod, which queues past it. Scaling on concurrency needs a custom metrics adapter (KEDA, prometheus-adapter).`);
    if (config.keepAlive > HPA_MAX_STABILIZATION_SECONDS) {
      warn('keep_alive', `keep_alive=${config.keepAlive} s is above the HorizontalPodAutoscaler's longest scale-down stabilization window (${HPA_MAX_STABILIZATION_SECONDS} s); the export uses ${HPA_MAX_STABILIZATION_SECONDS} s.`);
    }
    if (config.requestTimeout !== null) {
      warn('request_timeout', `request_timeout=${config.requestTimeout} s has no Deployment or Service field; set it on your Ingress or gateway. The container lets requests finish for that long when it stops.`);
    }
  }
  if (knative && config.requestTimeout !== null && config.requestTimeout > KNATIVE_MAX_TIMEOUT_SECONDS) {
    warn('request_timeout', `request_timeout=${config.requestTimeout} s is above Knative's default max-revision-timeout-seconds (${KNATIVE_MAX_TIMEOUT_SECONDS}); raise it in the config-defaults ConfigMap or the Service is refused.`);
  }
  if (gpu && knative) {
    warn('machine_type', 'Knative accepts a nodeSelector only with the kubernetes.podspec-nodeselector feature flag (config-features ConfigMap); enable it, or remove the nodeSelector.');
  }
  if (config.volumes.length && knative) {
    warn('volumes', 'Knative mounts PersistentVolumeClaims only with the kubernetes.podspec-persistent-volume-claim and kubernetes.podspec-persistent-volume-write feature flags (config-features ConfigMap); enable both.');
  }

  const graceSeconds = Math.ceil(config.requestTimeout ?? DEFAULT_GRACE_SECONDS);
  const health = config.endpoints.find((endpoint) => endpoint.isHealth);
  const filesUrl = `http://${name}.${options.namespace ?? 'default'}.svc.cluster.local/files`;
  const env: EnvVar[] = [
    ...Object.entries(config.env).map(([envName, value]) => ({ name: envName, value })),
    { name: 'KILN_MAX_MULTIPLEXING', value: String(config.maxMultiplexing) },
    { name: 'KILN_GRACE_SECONDS', value: String(graceSeconds) },
    // Files the app saves are served by the pod that saved them, at the Service's in-cluster address.
    { name: 'KILN_FILES_URL', value: filesUrl },
  ];

  return {
    target: options.target,
    name,
    namespace: options.namespace,
    className: config.className,
    image: options.image ?? `${name}:latest`,
    baseImage: options.baseImage ?? (gpu ? GPU_BASE_IMAGE : CPU_BASE_IMAGE),
    installPython: !options.baseImage && gpu,
    machineType,
    entry,
    requirements: config.requirements,
    env,
    secret: config.secrets.length ? { name: `${name}-secrets`, keys: config.secrets } : null,
    volumes: config.volumes.map(({ mountPath, volume }) => ({ claim: kubernetesName(volume), mountPath, volume })),
    resources: resourcesFor(machineType, config.numGpus),
    gpuProduct: gpu ? GPU_PRODUCT_LABELS[machineType.name]![0]! : null,
    minScale,
    maxScale,
    keepAlive: config.keepAlive,
    maxMultiplexing: config.maxMultiplexing,
    requestTimeout: config.requestTimeout,
    startupTimeout: config.startupTimeout,
    healthEndpoint: health?.path ?? null,
    endpointPaths: config.endpoints.filter((endpoint) => !endpoint.isHealth).map((endpoint) => endpoint.path),
    graceSeconds,
    warnings,
  };
}

function resourcesFor(type: MachineType, numGpus: number): ExportPlan['resources'] {
  // The catalog gives GPU types no CPU or memory; one core is requested so that an HPA has
  // something to measure utilization against.
  if (type.kind === 'gpu') return { requests: { cpu: '1' }, limits: { 'nvidia.com/gpu': numGpus } };
  // No CPU limit: throttling a busy handler helps no one; memory is the limit that protects the node.
  const cpu = `${Math.round(type.cpuCores * 1000)}m`;
  const memory = `${Math.round(type.memoryGb * 1024)}Mi`;
  return { requests: { cpu, memory }, limits: { memory } };
}

// ---- the tables ----------------------------------------------------------------------------

/** App key -> Knative Service -> plain Kubernetes, as the README shows it. */
export const MAPPING_TABLE: readonly [string, string, string][] = [
  ['`min_concurrency`', '`autoscaling.knative.dev/min-scale`', 'HPA `minReplicas` (at least 1)'],
  ['`max_concurrency`', '`autoscaling.knative.dev/max-scale`', `HPA \`maxReplicas\` (${DEFAULT_MAX_REPLICAS} when unset)`],
  ['`keep_alive`', '`autoscaling.knative.dev/scale-to-zero-pod-retention-period`', `HPA \`behavior.scaleDown.stabilizationWindowSeconds\` (at most ${HPA_MAX_STABILIZATION_SECONDS})`],
  ['`max_multiplexing`', '`containerConcurrency`, and `KILN_MAX_MULTIPLEXING` in the pod', '`KILN_MAX_MULTIPLEXING` in the pod'],
  ['`request_timeout`', '`timeoutSeconds`; the drain grace period', 'the drain grace period, `terminationGracePeriodSeconds`'],
  ['`startup_timeout`', '`serving.knative.dev/progress-deadline`', 'a `startupProbe` on `/health` with that budget'],
  ['health endpoint', 'readiness probe `GET /health`', 'readiness probe `GET /health`'],
  ['`machine_type` (GPU)', 'nodeSelector `nvidia.com/gpu.product` (GPU feature discovery\'s label)', 'the same'],
  ['`machine_type` (CPU)', 'CPU and memory requests, memory limit', 'the same'],
  ['`num_gpus`', '`nvidia.com/gpu` limit', 'the same'],
  ['`requirements`', 'installed when the image is built', 'the same'],
  ['`env`', '`env` values', 'the same'],
  ['`secrets`', '`secretKeyRef` to the Secret `<name>-secrets` (you create it)', 'the same'],
  ['`volumes`', 'a ReadWriteMany PersistentVolumeClaim per volume, mounted at its path', 'the same'],
  ['`name`', 'the Service\'s name', 'the Deployment\'s, Service\'s and HPA\'s name'],
];

/** What does not map, and what the export does instead; each is a warning when an app meets it. */
export const NOT_MAPPED_TABLE: readonly [string, string][] = [
  ['the queue API', 'The container serves sync calls only; `/queue/...`, status and cancel stay with the Kiln runtime.'],
  ['`keep_alive` below 60 s (Knative)', 'The last pod stays for Knative\'s stable window (60 s by default, 6 s at least) after its last request; lower `autoscaling.knative.dev/window` to scale to zero sooner.'],
  ['`keep_alive` above an hour (Kubernetes)', 'The HPA\'s scale-down window is at most 3600 s.'],
  ['`min_concurrency = 0` (Kubernetes)', 'An HPA keeps at least one pod; scale to zero needs Knative.'],
  ['`max_multiplexing` as the scaling signal (Kubernetes)', `The HPA scales on CPU (${HPA_CPU_UTILIZATION}%); each pod still admits only max_multiplexing requests at once and queues the rest.`],
  ['`request_timeout` (Kubernetes)', 'No Deployment field: set it on the Ingress or gateway.'],
  ['`request_timeout` above 600 s (Knative)', 'Above the default `max-revision-timeout-seconds`; raise it in `config-defaults`.'],
  ['`concurrency_buffer`', 'No equivalent; on Knative, a lower `autoscaling.knative.dev/target-utilization-percentage` keeps spare capacity.'],
  ['`machine_type` fallback lists', 'A pod asks for one kind of node: the first type is used.'],
  ['GPU types\' CPU and memory', 'Not in the catalog: one CPU core is requested (what the HPA measures against) and no memory.'],
  ['nodeSelector and PVCs on Knative', 'Need the `kubernetes.podspec-nodeselector`, `kubernetes.podspec-persistent-volume-claim` and `-write` feature flags.'],
  ['files from `save_image`/`save_file`', 'Served by the pod that saved them at `/files/...`; with several pods, mount a shared volume at `KILN_FILES_DIR`.'],
];
