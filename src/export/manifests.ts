/**
 * The Kubernetes objects of an export plan, as plain JSON-shaped objects (check.ts validates
 * them against the schemas; index.ts writes them as YAML).
 */
import {
  APP_DIR,
  CONTAINER_PORT,
  CONTAINER_UID,
  type ExportPlan,
  GPU_PRODUCT_LABEL,
  HPA_CPU_UTILIZATION,
  HPA_MAX_STABILIZATION_SECONDS,
  TERMINATION_MARGIN_SECONDS,
  VOLUME_SIZE,
} from './mapping';

export type Manifest = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<string, unknown>;

const HEALTH_PATH = '/health';
/** How often the plain-Kubernetes probes look: the startup budget is counted in these. */
const PROBE_PERIOD_SECONDS = 5;
/** A pause before SIGTERM so the Service's endpoints drop the pod before it stops taking requests. */
const PRE_STOP_SECONDS = 5;

function metadata(plan: ExportPlan, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: plan.name,
    ...(plan.namespace ? { namespace: plan.namespace } : {}),
    labels: { 'app.kubernetes.io/name': plan.name, 'app.kubernetes.io/managed-by': 'kiln' },
    ...extra,
  };
}

function containerEnv(plan: ExportPlan): Record<string, unknown>[] {
  const values = plan.env.map(({ name, value }) => ({ name, value }));
  const secrets = (plan.secret?.keys ?? []).map((key) => ({
    name: key,
    valueFrom: { secretKeyRef: { name: plan.secret!.name, key } },
  }));
  return [...values, ...secrets];
}

function container(plan: ExportPlan, extra: Record<string, unknown>): Record<string, unknown> {
  const resources: Record<string, unknown> = {};
  if (Object.keys(plan.resources.requests).length) resources.requests = plan.resources.requests;
  if (Object.keys(plan.resources.limits).length) resources.limits = plan.resources.limits;
  return {
    name: 'app',
    image: plan.image,
    ports: [{ containerPort: CONTAINER_PORT, ...(plan.target === 'kubernetes' ? { name: 'http' } : {}) }],
    env: containerEnv(plan),
    resources,
    ...(plan.volumes.length ? { volumeMounts: plan.volumes.map(({ claim, mountPath }) => ({ name: claim, mountPath })) } : {}),
    securityContext: { runAsNonRoot: true, runAsUser: CONTAINER_UID, allowPrivilegeEscalation: false },
    workingDir: APP_DIR,
    ...extra,
  };
}

function podVolumes(plan: ExportPlan): Record<string, unknown> {
  if (!plan.volumes.length) return {};
  return { volumes: plan.volumes.map(({ claim }) => ({ name: claim, persistentVolumeClaim: { claimName: claim } })) };
}

function nodeSelector(plan: ExportPlan): Record<string, unknown> {
  return plan.gpuProduct ? { nodeSelector: { [GPU_PRODUCT_LABEL]: plan.gpuProduct } } : {};
}

/** One ReadWriteMany claim per volume: every pod of the app mounts the same data. */
function volumeClaims(plan: ExportPlan): Manifest[] {
  return plan.volumes.map(({ claim, volume }) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      ...metadata(plan),
      name: claim,
      annotations: { 'kiln.dev/volume': volume },
    },
    spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: VOLUME_SIZE } } },
  }));
}

export function knativeManifests(plan: ExportPlan): Manifest[] {
  const annotations: Record<string, string> = {
    'autoscaling.knative.dev/min-scale': String(plan.minScale),
    'autoscaling.knative.dev/scale-to-zero-pod-retention-period': `${plan.keepAlive}s`,
  };
  if (plan.maxScale !== null) annotations['autoscaling.knative.dev/max-scale'] = String(plan.maxScale);
  if (plan.startupTimeout !== null) annotations['serving.knative.dev/progress-deadline'] = `${Math.ceil(plan.startupTimeout)}s`;
  const service: Manifest = {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: metadata(plan),
    spec: {
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': plan.name }, annotations },
        spec: {
          containerConcurrency: plan.maxMultiplexing,
          ...(plan.requestTimeout !== null ? { timeoutSeconds: Math.ceil(plan.requestTimeout) } : {}),
          containers: [container(plan, {
            // No periodSeconds: Knative's queue-proxy then probes every few milliseconds while the
            // pod starts, so a cold start is served the moment setup() is done.
            readinessProbe: { httpGet: { path: HEALTH_PATH, port: CONTAINER_PORT } },
          })],
          ...nodeSelector(plan),
          ...podVolumes(plan),
        },
      },
    },
  };
  return [...volumeClaims(plan), service];
}

export function kubernetesManifests(plan: ExportPlan): Manifest[] {
  const labels = { 'app.kubernetes.io/name': plan.name };
  const probe = { httpGet: { path: HEALTH_PATH, port: 'http' }, periodSeconds: PROBE_PERIOD_SECONDS };
  const deployment: Manifest = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(plan),
    spec: {
      replicas: plan.minScale,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: plan.graceSeconds + TERMINATION_MARGIN_SECONDS,
          securityContext: { fsGroup: CONTAINER_UID },
          containers: [container(plan, {
            readinessProbe: probe,
            ...(plan.startupTimeout !== null
              ? { startupProbe: { ...probe, failureThreshold: Math.max(1, Math.ceil(plan.startupTimeout / PROBE_PERIOD_SECONDS)) } }
              : {}),
            lifecycle: { preStop: { exec: { command: ['sleep', String(PRE_STOP_SECONDS)] } } },
          })],
          ...nodeSelector(plan),
          ...podVolumes(plan),
        },
      },
    },
  };
  const service: Manifest = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(plan),
    spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  };
  const autoscaler: Manifest = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: metadata(plan),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: plan.name },
      minReplicas: plan.minScale,
      maxReplicas: Math.max(plan.minScale, plan.maxScale ?? plan.minScale),
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: HPA_CPU_UTILIZATION } } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: Math.min(plan.keepAlive, HPA_MAX_STABILIZATION_SECONDS) } },
    },
  };
  return [...volumeClaims(plan), deployment, service, autoscaler];
}

export function manifestsFor(plan: ExportPlan): Manifest[] {
  return plan.target === 'knative' ? knativeManifests(plan) : kubernetesManifests(plan);
}
