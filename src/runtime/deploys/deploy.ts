/**
 * A deploy makes a new revision and switches traffic to it only once it is proven:
 *
 *   validate         the upload, the interpreter, and the configuration as written (static)
 *   environment      the Python environment for its requirements (cached by their hash)
 *   inspect          import the app in a worker: the authoritative configuration and schemas
 *   starting-runner  a runner of the new revision
 *   setup            that runner's setup() finishes
 *   health           its health endpoint answers, when it has one
 *   live             traffic moves to the new revision; the old one drains
 *
 * Any failure reports the message (with the user's file and line where there is one) and
 * leaves the previous revision serving.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  APP_NAME_PATTERN, type AppConfig, type AppInput, type Problem, RESERVED_APP_NAMES, UNCHECKED, validateApp, VolumeRef,
} from '../../appconfig';
import { checkTree, type CheckedApp, createPythonParser, findOption, rangeOfTarget } from '../../pyparse';
import type { DeployError, DeployEvent, DeployRequest, DeployStep, StartsInfo } from '../../shared/api';
import { type AppManager, HttpError, scaleOf } from '../apps';
import type { EventBus } from '../observability/events';
import { reportFault } from '../faults';
import type { LogStore } from '../observability/logs';
import type { RunnerLauncher, TemplateSpec } from '../runners/launch';
import { DEFAULT_STARTUP_TIMEOUT_S, type InvokeOutcome, type RevisionPool } from '../runners/pool';
import { type Runner, RunnerStartError } from '../runners/runner';
import { describeStarts } from '../runners/starter';
import { TemplateError, templateId, type TemplateProcess } from '../runners/template';
import type { InspectedApp, SourceError } from '../runners/workerProtocol';
import { type EnvironmentStore, probePython } from './environments';
import type { RevisionRecord, StateStore } from './store';

/** Uploads larger than this are not app source. */
const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
const HEALTH_TIMEOUT_MS = 30_000;
/** Lines of setup() output a deploy shows as they come; past them, it shows only the last ones. */
const LIVE_SETUP_LINES = 200;
const LAST_SETUP_LINES = 20;

/**
 * setup()'s output on its way to the deploy's progress stream: the first lines as they come, then
 * only the last few (where an error usually is) with a note of how many were left out and where
 * they all are. A setup that prints megabytes does not flood the terminal or the connection.
 */
class SetupOutput {
  private shown = 0;
  private held: string[] = [];
  private leftOut = 0;

  constructor(private readonly emit: (text: string) => void, private readonly allOfIt: string) {}

  line(text: string): void {
    if (this.shown < LIVE_SETUP_LINES) {
      this.shown++;
      this.emit(text);
      return;
    }
    this.held.push(text);
    if (this.held.length > LAST_SETUP_LINES) {
      this.held.shift();
      this.leftOut++;
    }
  }

  end(): void {
    if (this.leftOut > 0) this.emit(`… ${this.leftOut} more lines of setup() output, not shown here (all of them: ${this.allOfIt})`);
    this.held.forEach((text) => this.emit(text));
    this.held = [];
  }
}

export class DeployFailure extends Error {
  /** The HTTP status a caller that waits for the end of the deploy is answered with. */
  constructor(readonly step: DeployStep, readonly error: DeployError, readonly status = 422) {
    super(error.message);
  }
}

export interface DeployerDeps {
  apps: AppManager;
  store: StateStore;
  environments: EnvironmentStore;
  launcher: RunnerLauncher;
  logs: LogStore;
  events: EventBus;
  stagingDir: string;
  defaultPython: string;
}

/** What a worker's start failed with: the app's own exception when it raised one. */
function failureText(error: { message: string; source: SourceError | null }): string {
  return error.source ? `${error.source.type}: ${error.source.message}` : error.message;
}

function fromSource(step: DeployStep, message: string, source: SourceError | null, sourceDir: string): DeployFailure {
  const file = source?.file ? path.relative(sourceDir, source.file) : undefined;
  const inUpload = file !== undefined && !file.startsWith('..');
  return new DeployFailure(step, {
    message,
    ...(inUpload ? { file } : {}),
    ...(inUpload && source?.line ? { line: source.line } : {}),
  });
}

/** Inspect's JSON back into validation's input: `{"$volume": n}` is fal.Volume(n). */
function decodeOption(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeOption);
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if ('$volume' in object && Object.keys(object).length === 1) return new VolumeRef(object.$volume);
    if ('$repr' in object && Object.keys(object).length === 1) return String(object.$repr);
    return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, decodeOption(item)]));
  }
  return value;
}

export function inspectedInput(app: InspectedApp): AppInput {
  return {
    className: app.className,
    options: app.options.map((option) => ({ key: option.key, value: decodeOption(option.value), source: option.source })),
    endpoints: app.endpoints.map((endpoint) => ({
      path: endpoint.path, functionName: endpoint.functionName, parameters: endpoint.parameters, isAsync: endpoint.isAsync,
    })),
    methods: app.methods,
  };
}

function safeRelative(file: string): boolean {
  return file !== '' && !path.isAbsolute(file) && !file.split(/[\\/]/).some((part) => part === '..' || part === '');
}


/** Whether a template that imported with `used` saw what the runners of `config` will: env and volumes. */
function sameSandbox(used: AppConfig, config: AppConfig): boolean {
  return JSON.stringify([used.env, used.volumes]) === JSON.stringify([config.env, config.volumes]);
}

/**
 * `work`'s result, unless the deploy is cancelled or `timeoutS` (startup_timeout) passes first;
 * either way `stop` ends the work and the deploy fails at `step`.
 */
async function settleWithin<T>(work: Promise<T>, timeoutS: number | null, signal: AbortSignal, stop: () => void, step: DeployStep): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_resolve, reject) => {
        onAbort = () => {
          stop();
          reject(new DeployFailure(step, { message: 'The deploy was cancelled; the previous revision keeps serving.' }));
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
        if (timeoutS === null) return;
        timer = setTimeout(() => {
          stop();
          reject(new DeployFailure(step, { message: `setup() did not finish within ${timeoutS} s (startup_timeout). Make setup faster or raise startup_timeout.` }));
        }, timeoutS * 1000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

export class Deployer {
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly deps: DeployerDeps) {}

  cancel(deployId: string): boolean {
    const controller = this.running.get(deployId);
    controller?.abort();
    return controller !== undefined;
  }

  /** Runs a deploy to its end, streaming its events; resolves with the HTTP status its outcome maps to. */
  async deploy(request: DeployRequest, emit: (event: DeployEvent) => void): Promise<number> {
    const deployId = randomUUID();
    const controller = new AbortController();
    this.running.set(deployId, controller);
    const staging = path.join(this.deps.stagingDir, deployId);
    let appName: string | null = null;
    /** Whether this deploy holds the app's deploy lock, so only its owner lets it go. */
    let locked = false;
    const unlock = () => {
      if (locked && appName) this.deps.apps.endDeploy(appName);
      locked = false;
    };
    let step: DeployStep = 'validate';
    const enter = (next: DeployStep, message: string) => {
      step = next;
      emit({ type: 'step', step, message });
      if (controller.signal.aborted) throw new DeployFailure(step, { message: 'The deploy was cancelled; the previous revision keeps serving.' });
    };
    try {
      emit({ type: 'started', deployId, app: request.name ?? null });
      this.deps.events.publish({ type: 'deploy.started', deployId, app: request.name ?? null });
      enter('validate', 'checking the upload and the configuration');
      const sourceDir = path.join(staging, 'src');
      this.stage(request, sourceDir);
      const python = await probePython(request.python ?? this.deps.defaultPython).catch((error: Error) => {
        throw new DeployFailure('validate', { message: error.message });
      });
      const statically = await this.readStatically(request);
      appName = request.name ?? statically.validation.settings.name;
      this.checkName(appName, request.name !== undefined);
      this.deps.apps.beginDeploy(appName);
      locked = true;
      emit({ type: 'step', step, message: `app ${appName}, class ${statically.app.className}, Python ${python.version}` });

      enter('environment', statically.validation.settings.requirements.length
        ? `installing ${statically.validation.settings.requirements.length} requirement(s)` : 'no requirements: using the interpreter as it is');
      await this.deps.environments.compileHarness(python);
      const environment = await this.deps.environments.prepare(python, statically.validation.settings.requirements,
        (text) => emit({ type: 'log', step: 'environment', text }), controller.signal)
        .catch((error: Error) => { throw new DeployFailure('environment', { message: error.message }); });
      if (environment.envDir) emit({ type: 'log', step, text: environment.cached ? `reusing environment ${path.basename(environment.envDir)}` : `built environment ${path.basename(environment.envDir)}` });

      enter('inspect', 'importing the app');
      // The template imports the app from where its runners will run it: the revision's own folder.
      const revisionNumber = this.deps.store.reserveRevision(appName);
      const revisionSource = this.deps.store.sourceDir(appName, revisionNumber);
      cpSync(sourceDir, revisionSource, { recursive: true });
      const name = appName;
      const stopFollowing = this.streamOutput(name, templateId(name, revisionNumber), () => step, emit);
      let template: TemplateProcess | undefined;
      let pool: RevisionPool | undefined;
      /** Set when the running revision gave up its GPUs for this one: lets it start runners again. */
      let resumeOld: (() => void) | undefined;
      try {
        const spec: TemplateSpec = {
          app: name, revision: revisionNumber, python: environment.python, sourceDir: revisionSource, entry: request.entry,
          className: statically.app.className, envDir: environment.envDir, config: statically.validation.settings,
        };
        template = await this.inspectIn(spec, controller.signal);
        const app = (await template.inspected).find((candidate) => candidate.className === statically.app.className);
        if (!app) throw new DeployFailure('inspect', { message: `Importing ${request.entry} defined no fal.App class named ${statically.app.className}.` });
        const validation = validateApp(inspectedInput(app));
        this.failOnProblems('inspect', validation.problems, statically, request.entry);
        const config = { ...validation.config!, name };
        const { warnings } = this.deps.launcher.prepareMounts(config);
        warnings.forEach((message) => emit({ type: 'warning', message }));
        if (!sameSandbox(spec.config, config)) {
          // env or volumes computed at import time: the template must import with the real ones.
          template.stop();
          template = await this.inspectIn({ ...spec, config }, controller.signal);
        }

        const revision: RevisionRecord = {
          app: name,
          revision: revisionNumber,
          className: app.className,
          entry: request.entry,
          python: environment.python,
          pythonVersion: python.version,
          envDir: environment.envDir,
          config,
          endpoints: app.endpoints,
          createdAt: new Date().toISOString(),
        };
        this.deps.store.saveRevision(revision);
        const overridesNow = () => (request.resetScale ? {} : this.deps.store.loadApp(name)?.scaleOverrides ?? {});
        pool = this.deps.apps.createPool(revision, scaleOf(config, overridesNow()), template);
        template = undefined;
        const startupTimeout = config.startupTimeout ?? DEFAULT_STARTUP_TIMEOUT_S;
        if (config.snapshotAfterSetup) enter('setup', 'running setup() once in the template, for runners to start from');
        const starts = await this.prepareStarts(pool, startupTimeout, controller.signal, revisionSource);
        const note = describeStarts(starts);
        if (note) emit({ type: 'warning', message: note });

        enter('starting-runner', `${starts.mode === 'spawn' ? 'starting' : 'forking'} a runner of revision ${revisionNumber}`);
        const runner = await this.startFirstRunner(pool, name, emit, (resume) => { resumeOld = resume; });
        if (runner.options.cpuFallback) emit({ type: 'warning', message: `No GPU for ${config.machineTypes.join(' or ')} on this host: the app runs on CPU.` });
        const stopFollowingRunner = this.streamOutput(name, runner.id, () => step, emit);
        try {
          if (starts.mode !== 'snapshot') enter('setup', `runner ${runner.id} is running setup()`);
          await this.awaitReady(runner, startupTimeout, controller.signal, revisionSource);
          // setup()'s last lines were written before the ready frame, but may be read just after
          // it in the same turn of the event loop: let that turn finish before the stream moves on.
          await new Promise((resolve) => setImmediate(resolve));
          const health = config.endpoints.find((endpoint) => endpoint.isHealth);
          if (health) {
            enter('health', `calling ${health.path}`);
            await this.checkHealth(name, health.path, pool);
          }
        } finally {
          stopFollowingRunner();
        }
        enter('live', `revision ${revisionNumber} is serving`);
        // Read the record again: `kiln scale` and the meter may have changed it during the deploy.
        const latest = this.deps.store.loadApp(name);
        const overrides = overridesNow();
        pool.setScale(scaleOf(config, overrides));
        const now = new Date().toISOString();
        const record = {
          name,
          revision: revisionNumber,
          lastRevision: revisionNumber,
          createdAt: latest?.createdAt ?? now,
          updatedAt: now,
          scaleOverrides: overrides,
          costUsd: latest?.costUsd ?? 0,
        };
        this.deps.store.saveApp(record);
        this.deps.apps.serve(record, pool, warnings);
        this.deps.logs.append({ app: name, revision: revisionNumber, runner: null, stream: 'system', text: `Revision ${revisionNumber} of ${name} is live.` });
      } catch (error) {
        template?.kill();
        await pool?.stopAll(0);
        this.deps.store.discardRevision(name, revisionNumber);
        resumeOld?.();
        throw error;
      } finally {
        stopFollowing();
      }
      unlock();
      emit({ type: 'done', app: this.deps.apps.detail(appName) });
      this.deps.events.publish({ type: 'app.deployed', app: appName, revision: revisionNumber });
      this.deps.events.publish({ type: 'deploy.finished', deployId, app: appName, ok: true, revision: revisionNumber });
      return 200;
    } catch (error) {
      const failure = error instanceof DeployFailure ? error
        : error instanceof HttpError ? new DeployFailure(step, { message: String(error.detail) }, error.status)
          : new DeployFailure(step, { message: (error as Error).message });
      if (appName) {
        this.deps.logs.append({ app: appName, revision: 0, runner: null, stream: 'system', level: 'error',
          text: `Deploy failed at ${failure.step}: ${failure.error.message}${failure.error.file ? ` (${failure.error.file}:${failure.error.line ?? '?'})` : ''}` });
      }
      emit({ type: 'failed', step: failure.step, error: failure.error });
      this.deps.events.publish({ type: 'deploy.finished', deployId, app: appName, ok: false, error: failure.error.message });
      return failure.status;
    } finally {
      this.running.delete(deployId);
      unlock();
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /**
   * The new revision's first runner. On a host whose fitting GPUs the running revision holds
   * (one GPU, say), a rolling deploy cannot fit: the old revision's idle runners make room, as
   * in a recreate deploy, and come back if this deploy fails.
   */
  private async startFirstRunner(pool: RevisionPool, appName: string, emit: (event: DeployEvent) => void, onPaused: (resume: () => void) => void): Promise<Runner> {
    try {
      return pool.startOne();
    } catch (error) {
      const old = this.deps.apps.livePool(appName);
      if (!(error instanceof RunnerStartError) || error.phase !== 'gpus-busy' || !old) {
        throw new DeployFailure('starting-runner', { message: (error as Error).message });
      }
      onPaused(() => old.resumeStarts());
      const freed = await old.releaseIdleGpus();
      if (freed === 0) throw new DeployFailure('starting-runner', { message: (error as Error).message });
      emit({ type: 'warning', message: `No free GPU for the new revision: stopped ${freed} idle runner(s) of revision ${old.revision.revision} to make room; they come back if this deploy fails.` });
      try {
        return pool.startOne();
      } catch (retryError) {
        throw new DeployFailure('starting-runner', { message: (retryError as Error).message });
      }
    }
  }

  private stage(request: DeployRequest, sourceDir: string): void {
    const files = Object.entries(request.files);
    const bad = files.find(([file]) => !safeRelative(file));
    if (bad) throw new DeployFailure('validate', { message: `"${bad[0]}" is not a relative path inside the app's folder.` });
    const size = files.reduce((sum, [, text]) => sum + Buffer.byteLength(text), 0);
    if (size > MAX_UPLOAD_BYTES) throw new DeployFailure('validate', { message: `The upload is ${Math.round(size / 1e6)} MB; app source is limited to ${MAX_UPLOAD_BYTES / 1e6} MB. Keep model weights in a volume.` });
    for (const [file, text] of files) {
      const target = path.join(sourceDir, file);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
    }
  }

  /** The configuration as written: found before anything is installed or imported. */
  private async readStatically(request: DeployRequest): Promise<CheckedApp> {
    const parser = await createPythonParser();
    const tree = parser.parse(request.files[request.entry]!)!;
    try {
      const checked = checkTree(tree);
      const apps = checked.apps.filter((candidate) => !request.className || candidate.app.className === request.className);
      if (apps.length === 0) {
        throw new DeployFailure('validate', {
          message: request.className
            ? `${request.entry} has no fal.App class named ${request.className}${checked.apps.length ? ` (it has ${checked.apps.map((a) => a.app.className).join(', ')})` : ''}.`
            : `${request.entry} defines no class that subclasses fal.App.`,
          file: request.entry,
        });
      }
      if (apps.length > 1) {
        throw new DeployFailure('validate', {
          message: `${request.entry} defines several apps (${apps.map((a) => a.app.className).join(', ')}); choose one with --class or FILE::Class.`,
          file: request.entry,
        });
      }
      const chosen = apps[0]!;
      this.failOnProblems('validate', chosen.validation.problems, chosen, request.entry);
      const requirements = findOption(chosen.app, 'requirements', 'attribute');
      if (requirements && requirements.value.value === UNCHECKED) {
        throw new DeployFailure('validate', {
          message: 'requirements must be a literal list of strings, so the runtime can install them before importing the app.',
          file: request.entry, line: requirements.keyRange.start.line + 1,
        });
      }
      return chosen;
    } finally {
      tree.delete();
      parser.delete();
    }
  }

  private failOnProblems(step: DeployStep, problems: Problem[], located: CheckedApp, entry: string): void {
    const errors = problems.filter((problem) => problem.severity === 'error');
    if (errors.length === 0) return;
    const lineOf = (problem: Problem) => rangeOfTarget(located.app, problem.target).start.line + 1;
    const first = errors[0]!;
    throw new DeployFailure(step, {
      message: errors.length === 1 ? first.message : `${first.message} (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})`,
      code: first.code,
      file: entry,
      line: lineOf(first),
      problems: problems.map((problem) => ({ code: problem.code, severity: problem.severity, message: problem.message, line: lineOf(problem) })),
    });
  }

  private checkName(name: string, explicit: boolean): void {
    if (!explicit) return;
    if (!APP_NAME_PATTERN.test(name)) {
      throw new DeployFailure('validate', { message: `App name "${name}" cannot be used in URLs: use lower-case letters, digits and "-", 1 to 63 characters.` });
    }
    if (RESERVED_APP_NAMES.includes(name)) throw new DeployFailure('validate', { message: `App name "${name}" is reserved by the runtime's API; choose another.` });
  }

  /** Starts the revision's template and waits for what its import found. */
  private async inspectIn(spec: TemplateSpec, signal: AbortSignal): Promise<TemplateProcess> {
    const template = await this.deps.launcher.startTemplate(spec);
    try {
      await settleWithin(template.inspected, null, signal, () => template.kill(), 'inspect');
    } catch (error) {
      template.kill();
      if (error instanceof TemplateError) throw fromSource('inspect', error.message, error.source, spec.sourceDir);
      throw error;
    }
    return template;
  }

  /** Waits until the pool knows how its runners start: after the template's verdict, and its snapshot when the app asks for one. */
  private async prepareStarts(pool: RevisionPool, timeoutS: number, signal: AbortSignal, sourceDir: string): Promise<StartsInfo> {
    try {
      const stop = () => pool.stopAll(0).catch((error: unknown) => reportFault(`stopping revision ${pool.revision.revision} of ${pool.app}`, error));
      return await settleWithin(pool.prepareStarts(), timeoutS, signal, stop, 'setup');
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      if (error.phase !== 'setup') throw fromSource('inspect', error.message, error.source, sourceDir);
      throw fromSource('setup', `setup() failed: ${failureText(error)}`, error.source, sourceDir);
    }
  }

  /**
   * Streams a worker's output (the template's, a runner's) into the deploy's events while it
   * lasts, its first lines and its last; the returned function stops it.
   */
  private streamOutput(app: string, worker: string, step: () => DeployStep, emit: (event: DeployEvent) => void): () => void {
    const output = new SetupOutput((text) => emit({ type: 'log', step: step(), text }), `kiln logs ${app} --runner ${worker}`);
    const unfollow = this.deps.logs.follow(app, { runner: worker }, (record) => {
      if (record.stream !== 'system') output.line(record.text);
    });
    return () => {
      unfollow();
      output.end();
    };
  }

  private async awaitReady(runner: Runner, timeoutS: number, signal: AbortSignal, sourceDir: string): Promise<void> {
    try {
      await settleWithin(runner.ready, timeoutS, signal, () => runner.kill(), 'setup');
    } catch (error) {
      if (error instanceof RunnerStartError) {
        const where = error.phase === 'setup' ? 'setup() failed' : error.phase === 'exit' ? 'The runner stopped during setup' : 'The runner could not start';
        throw fromSource('setup', `${where}: ${failureText(error)}`, error.source, sourceDir);
      }
      throw error;
    }
  }

  private async checkHealth(app: string, path: string, pool: RevisionPool): Promise<void> {
    const outcome = await new Promise<InvokeOutcome>((resolve) => {
      const timer = setTimeout(() => resolve({
        result: { type: 'result', id: 'health', ok: false, status: 504, detail: `no answer within ${HEALTH_TIMEOUT_MS / 1000} s`, executionMs: HEALTH_TIMEOUT_MS },
        runner: null, queueMs: 0, coldStartMs: null,
      }), HEALTH_TIMEOUT_MS);
      pool.submit({ id: `health-${randomUUID()}`, path, input: {}, enqueuedAt: Date.now(), settle: (result) => { clearTimeout(timer); resolve(result); } });
    });
    if (!outcome.result.ok) {
      const detail = typeof outcome.result.detail === 'string' ? outcome.result.detail : JSON.stringify(outcome.result.detail);
      throw new DeployFailure('health', { message: `The health check ${path} of ${app} answered ${outcome.result.status}: ${detail}` });
    }
  }
}
