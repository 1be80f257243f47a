/**
 * Offline validation of manifests against the Kubernetes and Knative OpenAPI schemas, as the
 * kubernetes-models packages carry them (generated from the APIs' own definitions, with ajv
 * validators). `kiln export --check` and the unit tests both call checkManifests on the YAML as
 * it is written, so what is checked is what `kubectl apply` gets.
 *
 * The packages are ES modules only and load on first use: the editor and CLI pay for them only
 * when a check runs.
 */
import { parseAllDocuments } from 'yaml';

export interface ManifestProblem {
  /** "Service/text-to-image" (the document's kind and name), or "document N". */
  object: string;
  message: string;
}

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

/** apiVersion/kind -> the model class that validates it. */
const MODELS: Record<string, () => Promise<ModelClass>> = {
  'serving.knative.dev/v1/Service': async () => (await import('@kubernetes-models/knative/serving.knative.dev/v1/Service')).Service,
  'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
  'v1/PersistentVolumeClaim': async () => (await import('kubernetes-models/v1/PersistentVolumeClaim')).PersistentVolumeClaim,
  'autoscaling/v2/HorizontalPodAutoscaler': async () =>
    (await import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler')).HorizontalPodAutoscaler,
};

export const CHECKED_KINDS = Object.keys(MODELS);

/** Every problem in a multi-document YAML text; empty when all of it is valid. */
export async function checkManifests(yamlText: string): Promise<ManifestProblem[]> {
  const problems: ManifestProblem[] = [];
  const documents = parseAllDocuments(yamlText);
  if (!Array.isArray(documents)) return [{ object: 'document 1', message: 'not a YAML stream' }];
  for (const [index, document] of documents.entries()) {
    const label = `document ${index + 1}`;
    if (document.errors.length) {
      problems.push(...document.errors.map((error) => ({ object: label, message: error.message })));
      continue;
    }
    const value = document.toJS() as Record<string, unknown> | null;
    if (value === null) continue;
    const kind = `${String(value.apiVersion)}/${String(value.kind)}`;
    const name = (value.metadata as { name?: unknown } | undefined)?.name;
    const object = typeof name === 'string' ? `${String(value.kind)}/${name}` : label;
    const load = MODELS[kind];
    if (!load) {
      problems.push({ object, message: `${kind} is not a kind the check knows (${CHECKED_KINDS.join(', ')})` });
      continue;
    }
    const Model = await load();
    try {
      new Model(value as never).validate();
    } catch (error) {
      // One ajv message lists every failure, comma-separated: one problem each reads better.
      for (const message of (error as Error).message.split(/, (?=data)/)) problems.push({ object, message: message.replace(/^data\//, '') });
    }
  }
  return problems;
}
