/**
 * validateApp: every rule about an App's configuration, in one place. The language server,
 * `kiln check`, and the runtime's deploy all call it, so they never disagree.
 */
import type * as z from 'zod/mini';
import { DEFAULT_MACHINE_TYPE, findMachineType, machineTypeNames, type MachineType } from './catalog';
import { formatDuration, formatUsd, idleTailPerBurst, runnerRate } from './cost';
import { type AppInput, type EndpointInput, type OptionInput, UNCHECKED } from './input';
import { APP_NAME_PATTERN, defaultAppName, didYouMean, ENV_NAME_PATTERN, VOLUME_NAME_PATTERN } from './names';
import { ATTRIBUTE_OPTIONS, KEYWORD_OPTIONS, OPTION_SPECS, optionSpec } from './options';
import type { Fix, Problem, ProblemCode, ProblemTarget, Severity } from './problems';
import { isPinned, parseRequirement } from './requirements';
import { type AppConfig, appConfigSchema, containerSchemas, optionValueSchemas } from './schema';

export interface ValidationResult {
  problems: Problem[];
  /** Every value that passed its own checks, defaults for the rest: what hovers and costs describe. */
  settings: AppConfig;
  /** The same, only when no error was found: what a deploy runs with. */
  config: AppConfig | null;
}

/** keep_alive above this holds a runner idle for over an hour after each burst. */
export const LARGE_KEEP_ALIVE_SECONDS = 3600;

/** First path segments the runtime's own API uses, so no app may be called them. */
export const RESERVED_APP_NAMES = ['v1', 'queue', 'files', 'health', 'metrics'];

const HEALTH_PATHS = new Set(['/health', '/healthz']);
const ENDPOINT_PATH = /^\/(?:[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*)?$/;

/** Paths a volume must never cover: the OS, the kernel's views, and scratch space. */
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/proc', '/sbin', '/sys', '/usr'];
const SYSTEM_EXACT = ['/', '/home', '/opt', '/root', '/run', '/srv', '/tmp', '/var', '/mnt', '/media'];

// TOKENIZER and AUTHOR are everyday names in ML apps, not credentials.
const CREDENTIAL_NAME = /(TOKEN(?!IZ)|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH(?!OR))/i;
const CREDENTIAL_VALUE = /^(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|xox[abpr]-[\w-]{10,}|AKIA[0-9A-Z]{16}|AIza[\w-]{30,}|glpat-[\w-]{20,}|eyJ[\w-]+\.[\w-]+\.[\w-]+|key-[a-f0-9]{32})$/;

class ProblemList {
  readonly items: Problem[] = [];

  add(code: ProblemCode, severity: Severity, message: string, target: ProblemTarget, fixes?: Fix[]): void {
    this.items.push(fixes?.length ? { code, severity, message, target, fixes } : { code, severity, message, target });
  }

  /** Reports zod's first issue for a value, prefixed with what the value is. */
  addZod(code: ProblemCode, subject: string, error: z.core.$ZodError, target: ProblemTarget): void {
    this.add(code, 'error', `${subject} ${error.issues[0]?.message ?? 'is not valid'}.`, target);
  }

  get hasErrors(): boolean {
    return this.items.some((problem) => problem.severity === 'error');
  }
}

const valueOf = (option: OptionInput): ProblemTarget => ({ kind: 'option', key: option.key, source: option.source, at: 'value' });
const keyOf = (option: OptionInput): ProblemTarget => ({ kind: 'option', key: option.key, source: option.source, at: 'key' });
const itemOf = (option: OptionInput, item: string | number, itemAt: 'key' | 'value' = 'value'): ProblemTarget =>
  ({ kind: 'option', key: option.key, source: option.source, at: 'value', item, itemAt });

const quote = (text: string) => JSON.stringify(text);

/**
 * Checks one app. Options may repeat (a keyword and an attribute of the same name): as in fal's
 * SDK, the class attribute wins over the keyword, and of two attributes the later wins, as
 * Python assigns them in order. The value that wins is the one checked.
 */
export function validateApp(app: AppInput): ValidationResult {
  const problems = new ProblemList();
  const effective = new Map<string, OptionInput>();
  for (const option of app.options) {
    if (!checkPlacement(option, problems)) continue;
    if (option.source === 'attribute' || effective.get(option.key)?.source !== 'attribute') effective.set(option.key, option);
  }

  const resolved: Partial<Record<keyof AppConfig, unknown>> = {};
  const scalar = (key: keyof typeof optionValueSchemas & string, field: keyof AppConfig, code: ProblemCode) => {
    const option = effective.get(key);
    if (!option || option.value === UNCHECKED) return;
    const result = optionValueSchemas[key].safeParse(option.value);
    if (result.success) resolved[field] = result.data;
    else problems.addZod(code, key, result.error, valueOf(option));
  };
  scalar('keep_alive', 'keepAlive', 'invalid-keep-alive');
  scalar('min_concurrency', 'minConcurrency', 'invalid-min-concurrency');
  scalar('max_concurrency', 'maxConcurrency', 'invalid-max-concurrency');
  scalar('max_multiplexing', 'maxMultiplexing', 'invalid-max-multiplexing');
  scalar('concurrency_buffer', 'concurrencyBuffer', 'invalid-concurrency-buffer');
  scalar('request_timeout', 'requestTimeout', 'invalid-timeout');
  scalar('startup_timeout', 'startupTimeout', 'invalid-timeout');
  scalar('num_gpus', 'numGpus', 'invalid-num-gpus');
  scalar('snapshot_after_setup', 'snapshotAfterSetup', 'invalid-type');

  const machineTypeOption = effective.get('machine_type');
  const machineTypes = checkMachineTypes(machineTypeOption, problems);
  resolved.machineTypes = machineTypes.length ? machineTypes.map((type) => type.name) : [DEFAULT_MACHINE_TYPE];
  // A machine_type that names nothing known (unreadable, or wrong and reported) leaves the default
  // in the config only: the rules about GPUs and cost have no machine to judge.
  const machineKnown = machineTypes.length > 0 || !machineTypeOption;
  resolved.requirements = checkRequirements(effective.get('requirements'), problems);
  resolved.volumes = checkVolumes(effective.get('volumes'), problems);
  resolved.env = checkEnv(effective.get('env'), problems);
  resolved.secrets = checkSecrets(effective.get('secrets'), envNames(effective.get('env')), problems);
  resolved.name = checkAppName(app, effective.get('name'), problems);

  checkConcurrency(effective, resolved, problems);
  if (machineKnown) checkGpus(effective.get('num_gpus'), resolved, problems);
  if (machineKnown) checkSnapshot(effective.get('snapshot_after_setup'), resolved, problems);
  checkKeepAliveCost(effective.get('keep_alive'), resolved, machineKnown, problems);
  resolved.endpoints = checkEndpoints(app.endpoints, problems);
  if (app.methods.includes('__init__')) {
    problems.add('init-override', 'error',
      'App classes must not override __init__: the runtime creates the instance itself. Move this code into setup(self), which runs once per runner before it serves.',
      { kind: 'method', name: '__init__' });
  }

  const parsed = appConfigSchema.safeParse({ className: app.className, ...resolved });
  // Only values that passed their checks reach `resolved`; a failure here is a rule missing above.
  if (!parsed.success) throw new Error(`validateApp let through an invalid value: ${parsed.error.message}`);
  return { problems: problems.items, settings: parsed.data, config: problems.hasErrors ? null : parsed.data };
}

/** Unknown keys and keys in the wrong place; false when the option is not one of ours. */
function checkPlacement(option: OptionInput, problems: ProblemList): boolean {
  const spec = optionSpec(option.key);
  if (option.source === 'keyword') {
    if (!spec) {
      const suggestion = didYouMean(option.key, OPTION_SPECS.map((s) => s.key));
      // A near miss of an attribute-only option is fixed by moving it, not by renaming it here.
      const asKeyword = suggestion !== undefined && optionSpec(suggestion)!.accepted !== 'attribute';
      const hint = !suggestion ? ` Known keywords: ${KEYWORD_OPTIONS.join(', ')}.`
        : asKeyword ? ` Did you mean "${suggestion}"?`
          : ` Did you mean the class attribute "${suggestion}"? Set it in the class body: ${suggestion} = ...`;
      problems.add('unknown-option', 'error', `Unrecognised class keyword "${option.key}": fal rejects it at deploy.${hint}`,
        keyOf(option), asKeyword ? [{ kind: 'replace', title: `Change to "${suggestion}"`, target: keyOf(option), text: suggestion! }] : undefined);
      return false;
    }
    if (spec.accepted === 'attribute') {
      problems.add('option-must-be-attribute', 'error',
        `${option.key} must be a class attribute, not a class keyword (as a keyword it clashes inside fal's SDK). Write it in the class body: ${option.key} = ...`,
        keyOf(option));
      return false;
    }
    return true;
  }
  if (spec && spec.accepted !== 'keyword') return true;
  // A class attribute may be the user's own state; only a near miss of an option is reported.
  const suggestion = /^[a-z][a-z0-9_]*$/.test(option.key) ? didYouMean(option.key, ATTRIBUTE_OPTIONS) : undefined;
  if (suggestion && suggestion !== option.key) {
    problems.add('unknown-attribute', 'warning',
      `"${option.key}" is not an App setting, so it has no effect. Did you mean "${suggestion}"?`,
      keyOf(option), [{ kind: 'replace', title: `Change to "${suggestion}"`, target: keyOf(option), text: suggestion }]);
  }
  return false;
}

function checkMachineTypes(option: OptionInput | undefined, problems: ProblemList): MachineType[] {
  if (!option || option.value === UNCHECKED) return [];
  const container = containerSchemas.machine_type.safeParse(option.value);
  if (!container.success) {
    problems.addZod('invalid-type', 'machine_type', container.error, valueOf(option));
    return [];
  }
  const isList = Array.isArray(option.value);
  const items: unknown[] = isList ? option.value as unknown[] : [option.value];
  if (isList && items.length === 0) {
    problems.add('empty-machine-type-list', 'error',
      'machine_type is an empty list: name at least one machine type, e.g. ["GPU-A10G", "GPU-A100"].', valueOf(option));
    return [];
  }
  const found: MachineType[] = [];
  const seen = new Set<string>();
  items.forEach((item, index) => {
    if (item === UNCHECKED) return;
    const target = isList ? itemOf(option, index) : valueOf(option);
    const parsed = optionValueSchemas.machineTypeItem.safeParse(item);
    if (!parsed.success) {
      problems.addZod('invalid-type', 'machine_type', parsed.error, target);
      return;
    }
    const type = findMachineType(parsed.data);
    if (!type) {
      const suggestion = didYouMean(parsed.data, machineTypeNames());
      const hint = suggestion ? `Did you mean "${suggestion}"?` : `Known types: ${machineTypeNames().join(', ')}.`;
      problems.add('unknown-machine-type', 'error', `Unknown machine type "${parsed.data}". ${hint}`, target,
        suggestion ? [{ kind: 'replace', title: `Change to "${suggestion}"`, target, text: quote(suggestion) }] : undefined);
      return;
    }
    if (seen.has(type.name)) {
      problems.add('duplicate-machine-type', 'warning', `"${type.name}" is already in the list; a fallback list names each type once.`, target,
        [{ kind: 'remove', title: `Remove the second "${type.name}"`, target }]);
      return;
    }
    seen.add(type.name);
    found.push(type);
  });
  return found;
}

function checkRequirements(option: OptionInput | undefined, problems: ProblemList): string[] {
  if (!option || option.value === UNCHECKED) return [];
  const container = containerSchemas.requirements.safeParse(option.value);
  if (!container.success) {
    problems.addZod('invalid-type', 'requirements', container.error, valueOf(option));
    return [];
  }
  const accepted: string[] = [];
  const seen = new Set<string>();
  container.data.forEach((item, index) => {
    if (item === UNCHECKED) return;
    const target = itemOf(option, index);
    const text = optionValueSchemas.requirementItem.safeParse(item);
    if (!text.success) {
      problems.addZod('invalid-type', 'Each requirement', text.error, target);
      return;
    }
    const parsed = parseRequirement(text.data);
    if (!parsed.ok) {
      problems.add('invalid-requirement', 'error', `Requirement ${quote(text.data)} ${parsed.message}.`, target);
      return;
    }
    const { requirement } = parsed;
    if (seen.has(requirement.name)) {
      problems.add('duplicate-requirement', 'warning',
        `"${requirement.name}" is already required above; keep one line per package so the version is unambiguous.`, target,
        [{ kind: 'remove', title: `Remove this "${requirement.name}"`, target }]);
      return;
    }
    seen.add(requirement.name);
    if (!isPinned(requirement)) {
      problems.add('unpinned-requirement', 'information',
        `${quote(text.data)} is not pinned: each new environment may get a different version. Pin it with "${requirement.name}==<version>" for repeatable deploys.`,
        target);
    }
    accepted.push(text.data.trim());
  });
  return accepted;
}

function normaliseMountPath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

function checkVolumes(option: OptionInput | undefined, problems: ProblemList): AppConfig['volumes'] {
  if (!option || option.value === UNCHECKED) return [];
  const container = containerSchemas.volumes.safeParse(option.value);
  if (!container.success) {
    problems.addZod('invalid-type', 'volumes', container.error, valueOf(option));
    return [];
  }
  const mounts: AppConfig['volumes'] = [];
  for (const [rawPath, value] of Object.entries(container.data)) {
    const keyTarget = itemOf(option, rawPath, 'key');
    const valueTarget = itemOf(option, rawPath, 'value');
    const mountPath = normaliseMountPath(rawPath);
    let pathOk = true;
    if (!mountPath.startsWith('/') || mountPath.split('/').some((part) => part === '..' || part === '.')) {
      problems.add('invalid-volume-mount', 'error',
        `Mount path ${quote(rawPath)} must be absolute and plain, e.g. "/models" or "/data/cache".`, keyTarget);
      pathOk = false;
    } else if (SYSTEM_EXACT.includes(mountPath) || SYSTEM_TREES.some((tree) => mountPath === tree || mountPath.startsWith(`${tree}/`))) {
      problems.add('system-volume-mount', 'error',
        `A volume at ${quote(rawPath)} would hide part of the system the runner needs. Mount it at a path of its own, such as "/models" or "/data".`,
        keyTarget);
      pathOk = false;
    } else if (mounts.some((mount) => mount.mountPath === mountPath)) {
      problems.add('duplicate-volume-mount', 'error', `Two volumes are mounted at ${quote(mountPath)}; give each its own path.`, keyTarget);
      pathOk = false;
    } else {
      const outer = mounts.find((mount) => mountPath.startsWith(`${mount.mountPath}/`) || mount.mountPath.startsWith(`${mountPath}/`));
      if (outer) {
        problems.add('nested-volume-mount', 'error',
          `${quote(mountPath)} and ${quote(outer.mountPath)} are nested: one volume would hide the other's files. Mount them side by side.`,
          keyTarget);
        pathOk = false;
      }
    }
    if (value === UNCHECKED) continue;
    const volume = optionValueSchemas.volumeValue.safeParse(value);
    if (!volume.success) {
      const hint = typeof value === 'string' ? ` Write fal.Volume(${quote(value)}).` : '';
      problems.add('invalid-volume', 'error', `The volume at ${quote(rawPath)} must be fal.Volume("name").${hint}`, valueTarget);
      continue;
    }
    const name = volume.data.name;
    if (name === UNCHECKED) continue;
    if (typeof name !== 'string' || !VOLUME_NAME_PATTERN.test(name)) {
      problems.add('invalid-volume', 'error',
        `Volume name ${typeof name === 'string' ? quote(name) : 'here'} is not valid: use letters, digits, ".", "_" and "-" (up to 63), starting with a letter or digit.`,
        valueTarget);
      continue;
    }
    if (pathOk) mounts.push({ mountPath, volume: name });
  }
  return mounts;
}

function checkEnv(option: OptionInput | undefined, problems: ProblemList): Record<string, string> {
  if (!option || option.value === UNCHECKED) return {};
  const container = containerSchemas.env.safeParse(option.value);
  if (!container.success) {
    problems.addZod('invalid-type', 'env', container.error, valueOf(option));
    return {};
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(container.data)) {
    let ok = true;
    if (!ENV_NAME_PATTERN.test(name)) {
      problems.add('invalid-env-name', 'error',
        `${quote(name)} is not a valid environment variable name: use letters, digits and "_", not starting with a digit.`,
        itemOf(option, name, 'key'));
      ok = false;
    }
    if (value === UNCHECKED) continue;
    const text = optionValueSchemas.envValue.safeParse(value);
    if (!text.success) {
      problems.addZod('invalid-env-value', `env[${quote(name)}]`, text.error, itemOf(option, name));
      continue;
    }
    if (looksLikeCredential(name, text.data)) {
      problems.add('credential-in-env', 'warning',
        `env[${quote(name)}] looks like a credential: env is stored and shown in plain text. Move it to secrets (kiln secrets set ${name}=...) and list "${name}" in secrets.`,
        itemOf(option, name), [{ kind: 'move-env-to-secrets', title: `Move ${name} to secrets`, envKey: name }]);
    }
    if (ok) env[name] = text.data;
  }
  return env;
}

function looksLikeCredential(name: string, value: string): boolean {
  if (value === '' || /^(true|false|yes|no|on|off|none|null|\d+)$/i.test(value)) return false;
  if (CREDENTIAL_VALUE.test(value)) return true;
  // A credential-like name with a value that is not a path, URL or short word.
  return CREDENTIAL_NAME.test(name) && !/^(\/|\.|https?:\/\/)/.test(value) && value.length >= 8;
}

/** The names env sets, valid or not: a secret clashing with any of them is an error. */
function envNames(option: OptionInput | undefined): Set<string> {
  const value = option?.value;
  return new Set(value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : []);
}

function checkSecrets(option: OptionInput | undefined, envKeys: Set<string>, problems: ProblemList): string[] {
  if (!option || option.value === UNCHECKED) return [];
  const container = containerSchemas.secrets.safeParse(option.value);
  if (!container.success) {
    problems.addZod('invalid-type', 'secrets', container.error, valueOf(option));
    return [];
  }
  const names: string[] = [];
  container.data.forEach((item, index) => {
    if (item === UNCHECKED) return;
    const target = itemOf(option, index);
    const parsed = optionValueSchemas.secretItem.safeParse(item);
    if (!parsed.success) {
      problems.addZod('invalid-type', 'Each secret', parsed.error, target);
      return;
    }
    const name = parsed.data;
    if (!ENV_NAME_PATTERN.test(name)) {
      problems.add('invalid-secret-name', 'error',
        `Secret name ${quote(name)} is not valid: runners see secrets as environment variables, so use letters, digits and "_", not starting with a digit.`,
        target);
    } else if (names.includes(name)) {
      problems.add('duplicate-secret', 'warning', `Secret "${name}" is already listed.`, target,
        [{ kind: 'remove', title: `Remove the second "${name}"`, target }]);
    } else if (envKeys.has(name)) {
      problems.add('secret-also-in-env', 'error',
        `"${name}" is both a secret and an env variable, and only one value can reach the runner. Remove it from env.`, target);
    } else {
      names.push(name);
    }
  });
  return names;
}

function checkAppName(app: AppInput, option: OptionInput | undefined, problems: ProblemList): string {
  const fallback = defaultAppName(app.className);
  let name = fallback;
  let target: ProblemTarget = { kind: 'class' };
  let origin = `The default name "${fallback}" (from the class name)`;
  // A name the reader cannot evaluate replaces the default, so neither can be judged.
  if (option?.value === UNCHECKED) return fallback;
  if (option) {
    const parsed = optionValueSchemas.name.safeParse(option.value);
    if (!parsed.success) {
      problems.addZod('invalid-app-name', 'name', parsed.error, valueOf(option));
      return fallback;
    }
    name = parsed.data;
    target = valueOf(option);
    origin = `App name ${quote(name)}`;
  }
  if (!APP_NAME_PATTERN.test(name)) {
    const fix = option ? '' : ' Pass name="..." as a class keyword.';
    problems.add('invalid-app-name', 'error',
      `${origin} cannot be used in URLs: use lower-case letters, digits and "-", 1 to 63 characters, starting and ending with a letter or digit.${fix}`,
      target);
  } else if (RESERVED_APP_NAMES.includes(name)) {
    problems.add('invalid-app-name', 'error', `${origin} is reserved by the runtime's own API (${RESERVED_APP_NAMES.join(', ')}); choose another.`, target);
  }
  return name;
}

function checkConcurrency(effective: Map<string, OptionInput>, resolved: Partial<Record<keyof AppConfig, unknown>>, problems: ProblemList): void {
  const min = resolved.minConcurrency;
  const max = resolved.maxConcurrency;
  if (typeof min !== 'number' || typeof max !== 'number' || min <= max) return;
  const minOption = effective.get('min_concurrency')!;
  const maxOption = effective.get('max_concurrency')!;
  problems.add('min-exceeds-max', 'error',
    `min_concurrency (${min}) is greater than max_concurrency (${max}): the app could never keep ${min} runners. Make min_concurrency <= max_concurrency.`,
    valueOf(minOption),
    [{ kind: 'swap-values', title: 'Swap min_concurrency and max_concurrency', first: valueOf(minOption), second: valueOf(maxOption) }]);
}

function primaryMachineType(resolved: Partial<Record<keyof AppConfig, unknown>>): MachineType {
  const names = resolved.machineTypes as string[];
  return findMachineType(names[0]!)!;
}

function checkGpus(option: OptionInput | undefined, resolved: Partial<Record<keyof AppConfig, unknown>>, problems: ProblemList): void {
  if (!option || typeof resolved.numGpus !== 'number') return;
  const cpuTypes = (resolved.machineTypes as string[]).filter((name) => findMachineType(name)?.kind === 'cpu');
  if (cpuTypes.length === 0) return;
  problems.add('num-gpus-on-cpu', 'error',
    `num_gpus applies only to GPU machine types, and ${cpuTypes.map(quote).join(', ')} ${cpuTypes.length === 1 ? 'is a CPU type' : 'are CPU types'}. Choose a GPU machine_type (e.g. "GPU-A10G") or remove num_gpus.`,
    valueOf(option));
}

function checkSnapshot(option: OptionInput | undefined, resolved: Partial<Record<keyof AppConfig, unknown>>, problems: ProblemList): void {
  if (!option || resolved.snapshotAfterSetup !== true) return;
  const gpuTypes = (resolved.machineTypes as string[]).filter((name) => findMachineType(name)?.kind === 'gpu');
  if (gpuTypes.length === 0) return;
  problems.add('snapshot-on-gpu', 'warning',
    `snapshot_after_setup has no effect on GPU runners (${gpuTypes.join(', ')}): CUDA state cannot cross a fork, so each GPU runner runs setup() itself (still forked, so it skips the imports). The snapshot applies where the app runs on CPU.`,
    valueOf(option));
}

function checkKeepAliveCost(option: OptionInput | undefined, resolved: Partial<Record<keyof AppConfig, unknown>>, machineKnown: boolean,
  problems: ProblemList): void {
  const keepAlive = resolved.keepAlive;
  if (!option || typeof keepAlive !== 'number' || keepAlive <= LARGE_KEEP_ALIVE_SECONDS) return;
  let cost = '';
  if (machineKnown) {
    const type = primaryMachineType(resolved);
    const numGpus = typeof resolved.numGpus === 'number' ? resolved.numGpus : 1;
    cost = `: up to ${formatUsd(idleTailPerBurst(runnerRate(type, numGpus), keepAlive))} per runner per burst on ${type.name}`;
  }
  problems.add('large-keep-alive', 'warning',
    `keep_alive=${keepAlive} holds each runner idle for ${formatDuration(keepAlive)} after its last request${cost}. Use min_concurrency for always-on capacity, or a shorter keep_alive.`,
    valueOf(option));
}

function isHealthEndpoint(endpoint: EndpointInput): boolean {
  return (typeof endpoint.path === 'string' && HEALTH_PATHS.has(endpoint.path)) || endpoint.functionName === 'health';
}

function checkEndpoints(endpoints: EndpointInput[], problems: ProblemList): AppConfig['endpoints'] {
  if (endpoints.length === 0) {
    problems.add('no-endpoints', 'warning',
      'This App has no endpoints, so nothing can call it. Decorate a method with @fal.endpoint("/path").', { kind: 'class' });
  }
  const seen = new Map<string, number>();
  const healthIndexes = endpoints.flatMap((endpoint, index) => isHealthEndpoint(endpoint) ? [index] : []);
  healthIndexes.slice(1).forEach((index) => {
    problems.add('multiple-health-endpoints', 'error',
      `The app already has a health endpoint (${endpoints[healthIndexes[0]!]!.functionName}); the runtime uses one readiness check. Keep one.`,
      { kind: 'endpoint', index, at: 'path' });
  });
  const resolved: AppConfig['endpoints'] = [];
  endpoints.forEach((endpoint, index) => {
    const pathTarget: ProblemTarget = { kind: 'endpoint', index, at: 'path' };
    for (const parameter of endpoint.parameters) {
      if (parameter.annotation !== null) continue;
      problems.add('missing-type-hint', 'warning',
        `Parameter "${parameter.name}" has no type hint, so the runtime cannot validate its input or describe it in the endpoint's schema. Add one, e.g. "${parameter.name}: str".`,
        { kind: 'parameter', endpoint: index, parameter: parameter.name });
    }
    if (endpoint.path === UNCHECKED) return;
    if (typeof endpoint.path !== 'string') {
      problems.add('invalid-endpoint-path', 'error', 'The endpoint path must be a string such as "/generate".', pathTarget);
      return;
    }
    const path = endpoint.path;
    if (!ENDPOINT_PATH.test(path)) {
      const fixed = `/${path.replace(/^\/+/, '').replace(/[^A-Za-z0-9._~/-]+/g, '-').replace(/\/{2,}/g, '/').replace(/\/$/, '')}`;
      const reason = path.startsWith('/') ? 'may use only letters, digits, "-", "_", "." and "~" between single slashes' : 'must start with "/"';
      problems.add('invalid-endpoint-path', 'error', `Endpoint path ${quote(path)} ${reason}, e.g. ${quote(fixed)}.`, pathTarget,
        ENDPOINT_PATH.test(fixed) ? [{ kind: 'replace', title: `Change to ${quote(fixed)}`, target: pathTarget, text: quote(fixed) }] : undefined);
      return;
    }
    const earlier = seen.get(path);
    if (earlier !== undefined) {
      problems.add('duplicate-endpoint-path', 'error',
        `Endpoint path ${quote(path)} is already used by ${endpoints[earlier]!.functionName}(); each endpoint needs its own path.`, pathTarget);
      return;
    }
    seen.set(path, index);
    resolved.push({
      path,
      functionName: endpoint.functionName,
      parameters: endpoint.parameters,
      isAsync: endpoint.isAsync,
      isHealth: isHealthEndpoint(endpoint),
    });
  });
  return resolved;
}

