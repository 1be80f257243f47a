/**
 * The apps this runtime serves: for each, the revision taking traffic, revisions draining after
 * a redeploy, scale settings, cost, and the checks a request passes before a runner sees it.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { AppConfig } from '../appconfig';
import { optionValueSchemas } from '../appconfig';
import type { AppDetail, AppState, AppSummary, EndpointInfo, ScaleRequest, ScaleSettings } from '../shared/api';
import type { AppRecord, RevisionRecord, StateStore } from './deploys/store';
import { reportFault } from './faults';
import { compileInputValidator, type FieldError, type InputValidator } from './http/inputs';
import type { EventBus } from './observability/events';
import type { RuntimeLimits } from './limits';
import type { LogStore } from './observability/logs';
import type { Metrics } from './observability/metrics';
import type { GpuAllocator } from './runners/gpu';
import type { RunnerLauncher } from './runners/launch';
import { RunnerStarter } from './runners/starter';
import type { TemplateProcess } from './runners/template';
import { type InvokeOutcome, type PendingRequest, RevisionPool } from './runners/pool';
import type { Runner } from './runners/runner';

/** An error with the HTTP status and fal-shaped detail the API answers with. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly detail: unknown, readonly errorType?: string) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
  }
}

export function scaleOf(config: AppConfig, overrides: Partial<ScaleSettings>): ScaleSettings {
  return {
    minConcurrency: overrides.minConcurrency ?? config.minConcurrency,
    maxConcurrency: overrides.maxConcurrency !== undefined ? overrides.maxConcurrency : config.maxConcurrency,
    keepAlive: overrides.keepAlive ?? config.keepAlive,
    concurrencyBuffer: overrides.concurrencyBuffer ?? config.concurrencyBuffer,
    maxMultiplexing: overrides.maxMultiplexing ?? config.maxMultiplexing,
  };
}

/** Time a redeploy gives the old revision's in-flight requests before stopping its runners. */
const DRAIN_GRACE_MS = 30_000;

interface ServingApp {
  record: AppRecord;
  live: RevisionPool;
  validators: Map<string, InputValidator>;
  draining: Set<RevisionPool>;
  warnings: string[];
}

export interface AppManagerDeps {
  store: StateStore;
  logs: LogStore;
  gpus: GpuAllocator;
  launcher: RunnerLauncher;
  metrics: Metrics;
  events: EventBus;
  cpuRunnerLimit: number;
  /** Fork runners from warm templates (else every runner is a fresh process). */
  templates: boolean;
  limits: RuntimeLimits;
  publicUrl(): string;
  /** Takes secret values out of text that leaves the runtime. */
  redact(text: string): string;
}

/** Error details reach callers, queue files and the logs: no secret value may ride along. */
function redactDetail(detail: unknown, redact: (text: string) => string): unknown {
  if (typeof detail === 'string') return redact(detail);
  if (Array.isArray(detail)) return detail.map((item) => redactDetail(item, redact));
  if (detail && typeof detail === 'object') {
    return Object.fromEntries(Object.entries(detail).map(([key, value]) => [key, redactDetail(value, redact)]));
  }
  return detail;
}

export class AppManager {
  private readonly apps = new Map<string, ServingApp>();
  /** Apps with a deploy in progress, so a second deploy of the same app waits its turn. */
  private readonly deploying = new Set<string>();
  /** Which pool holds each request in flight, for cancellation. */
  private readonly requestPools = new Map<string, RevisionPool>();

  constructor(private readonly deps: AppManagerDeps) {}

  /** Brings back every app that was live when the runtime stopped. */
  restore(): void {
    for (const record of this.deps.store.loadApps()) {
      try {
        const revision = this.deps.store.loadRevision(record.name, record.revision);
        this.serve(record, this.createPool(revision, scaleOf(revision.config, record.scaleOverrides)));
      } catch (error) {
        this.deps.logs.append({ app: record.name, revision: record.revision, runner: null, stream: 'system', level: 'error',
          text: `Could not restore revision ${record.revision}: ${(error as Error).message}` });
      }
    }
  }

  /** A pool for a revision; `inspected` is the template the deploy imported the app in, adopted for forking. */
  createPool(revision: RevisionRecord, scale: ScaleSettings, inspected?: TemplateProcess): RevisionPool {
    const { config } = revision;
    const starter = new RunnerStarter({
      launcher: this.deps.launcher,
      logs: this.deps.logs,
      revision,
      sourceDir: this.deps.store.sourceDir(revision.app, revision.revision),
      templates: this.deps.templates,
      onGpus: this.deps.gpus.capacity(config.machineTypes, config.numGpus) !== null,
    }, inspected);
    return new RevisionPool(revision, scale, {
      logs: this.deps.logs,
      gpus: this.deps.gpus,
      cpuRunnerLimit: this.deps.cpuRunnerLimit,
      defaultRequestTimeoutS: this.deps.limits.defaultRequestTimeoutS,
      starter,
      started: (runner) => this.follow(revision, runner),
      meter: (usd) => {
        const serving = this.apps.get(revision.app);
        if (!serving) return;
        serving.record = { ...serving.record, costUsd: serving.record.costUsd + usd };
        this.deps.store.saveApp(serving.record);
      },
    });
  }

  /** A runner's start, readiness and exit, as events for watchers; its cold start, metered. */
  private follow(revision: RevisionRecord, runner: Runner): void {
    const named = { app: revision.app, revision: revision.revision, runner: runner.id };
    this.deps.events.publish({ type: 'runner.started', ...named });
    runner.ready.then(() => {
      this.deps.metrics.coldStart(revision.app, runner.coldStartMs ?? 0);
      this.deps.events.publish({ type: 'runner.ready', ...named, coldStartMs: runner.coldStartMs });
    }, () => undefined).catch((error: unknown) => reportFault(`following runner ${runner.id} to readiness`, error));
    runner.exit.then(() => this.deps.events.publish({ type: 'runner.stopped', ...named }))
      .catch((error: unknown) => reportFault(`announcing runner ${runner.id}'s exit`, error));
  }

  /** Puts a pool in front of traffic; the one it replaces drains. */
  serve(record: AppRecord, pool: RevisionPool, warnings: string[] = []): void {
    const previous = this.apps.get(record.name);
    const validators = new Map(pool.revision.endpoints.map((endpoint) => [endpoint.path, compileInputValidator(endpoint.inputSchema)]));
    const serving: ServingApp = { record, live: pool, validators, draining: previous?.draining ?? new Set(), warnings };
    this.apps.set(record.name, serving);
    pool.activate();
    if (!previous) return;
    for (const request of previous.live.stopAccepting()) this.route(serving, request);
    serving.draining.add(previous.live);
    previous.live.drain(DRAIN_GRACE_MS)
      .catch((error: unknown) => reportFault(`draining revision ${previous.live.revision.revision} of ${record.name}`, error))
      .finally(() => serving.draining.delete(previous.live));
  }

  /** The pool serving an app now, if it is deployed (a deploy of a new revision may need its GPUs). */
  livePool(name: string): RevisionPool | undefined {
    return this.apps.get(name)?.live;
  }

  beginDeploy(name: string): void {
    if (this.deploying.has(name)) throw new HttpError(409, `App "${name}" is already being deployed; wait for that deploy to finish or cancel it.`);
    this.deploying.add(name);
  }

  endDeploy(name: string): void {
    this.deploying.delete(name);
  }

  isDeploying(name: string): boolean {
    return this.deploying.has(name);
  }

  has(name: string): boolean {
    return this.apps.has(name);
  }

  record(name: string): AppRecord | undefined {
    return this.apps.get(name)?.record;
  }

  private serving(name: string): ServingApp {
    const serving = this.apps.get(name);
    if (!serving) throw new HttpError(404, `No app named "${name}". Deploy one with: kiln deploy FILE --name ${name}`);
    return serving;
  }

  /** Checks an invocation and hands it to the live revision; throws HttpError for 404 and 422. */
  invoke(name: string, path: string, input: unknown, options: { requestId?: string; onStart?(runner: string): void } = {}): { requestId: string; revision: number; outcome: Promise<InvokeOutcome> } {
    const serving = this.serving(name);
    const validator = serving.validators.get(path);
    if (!validator) {
      const paths = [...serving.validators.keys()].join(', ');
      throw new HttpError(404, `App "${name}" has no endpoint ${path}. Its endpoints: ${paths || 'none'}.`);
    }
    const errors: FieldError[] | null = validator(input);
    if (errors) throw new HttpError(422, errors);
    const pool = serving.live;
    const { maxQueuedPerApp } = this.deps.limits;
    if (pool.queued >= maxQueuedPerApp) {
      throw new HttpError(429, `App "${name}" already has ${pool.queued} requests waiting for a runner (the most the runtime holds per app, --max-queued ${maxQueuedPerApp}). Retry when they have run, or raise max_concurrency so more run at once.`, 'queue_full');
    }
    const requestId = options.requestId ?? randomUUID();
    const outcome = new Promise<InvokeOutcome>((resolve) => {
      const request: PendingRequest = {
        id: requestId,
        path,
        input: input as Record<string, unknown>,
        enqueuedAt: Date.now(),
        settle: (outcome) => {
          this.requestPools.delete(requestId);
          const { result } = outcome;
          resolve(result.ok ? outcome : { ...outcome, result: { ...result, detail: redactDetail(result.detail, this.deps.redact) } });
        },
        ...(options.onStart ? { onStart: options.onStart } : {}),
      };
      this.requestPools.set(requestId, pool);
      pool.submit(request);
    });
    return { requestId, revision: pool.revision.revision, outcome };
  }

  /** A request queued on a revision that stopped serving goes to the new one, or fails if its path is gone. */
  private route(serving: ServingApp, request: PendingRequest): void {
    if (!serving.validators.has(request.path)) {
      request.settle({
        result: { type: 'result', id: request.id, ok: false, status: 404, detail: `The new revision has no endpoint ${request.path}.`, executionMs: 0 },
        runner: null, queueMs: Date.now() - request.enqueuedAt, coldStartMs: null,
      });
      return;
    }
    this.requestPools.set(request.id, serving.live);
    serving.live.submit(request);
  }

  cancel(requestId: string): boolean {
    return this.requestPools.get(requestId)?.cancel(requestId) ?? false;
  }

  scale(name: string, request: ScaleRequest): AppDetail {
    const serving = this.serving(name);
    const checks: [keyof ScaleSettings, keyof typeof optionValueSchemas][] = [
      ['minConcurrency', 'min_concurrency'], ['maxConcurrency', 'max_concurrency'], ['keepAlive', 'keep_alive'],
      ['concurrencyBuffer', 'concurrency_buffer'], ['maxMultiplexing', 'max_multiplexing'],
    ];
    const changes: Partial<ScaleSettings> = {};
    for (const [field, key] of checks) {
      const value = request[field];
      if (value === undefined || (field === 'maxConcurrency' && value === null)) {
        if (value === null) changes.maxConcurrency = null;
        continue;
      }
      const parsed = optionValueSchemas[key].safeParse(value);
      if (!parsed.success) throw new HttpError(422, `${key} ${parsed.error.issues[0]?.message ?? 'is not valid'}.`);
      (changes as Record<string, unknown>)[field] = parsed.data;
    }
    const overrides = request.reset ? changes : { ...serving.record.scaleOverrides, ...changes };
    const scale = scaleOf(serving.live.revision.config, overrides);
    if (scale.maxConcurrency !== null && scale.minConcurrency > scale.maxConcurrency) {
      throw new HttpError(422, `min_concurrency (${scale.minConcurrency}) would exceed max_concurrency (${scale.maxConcurrency}).`);
    }
    serving.record = { ...serving.record, scaleOverrides: overrides, updatedAt: new Date().toISOString() };
    this.deps.store.saveApp(serving.record);
    serving.live.setScale(scale);
    this.deps.events.publish({ type: 'app.scaled', app: name, scale });
    return this.detail(name);
  }

  /**
   * Stops the app's runners and removes its revisions, files and logs. Volumes stay: they are
   * storage of their own, which other apps (or the next deploy of this one) may mount.
   */
  async delete(name: string): Promise<void> {
    const serving = this.serving(name);
    if (this.deploying.has(name)) throw new HttpError(409, `App "${name}" is being deployed; cancel that deploy or let it finish, then delete the app.`);
    this.apps.delete(name);
    await Promise.all([serving.live.stopAll(5_000), ...[...serving.draining].map((pool) => pool.stopAll(5_000))]);
    this.deps.store.deleteApp(name);
    rmSync(this.deps.launcher.filesDirOf(name), { recursive: true, force: true });
    this.deps.logs.delete(name);
    this.deps.events.publish({ type: 'app.deleted', app: name });
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.apps.values()].flatMap((serving) => [serving.live, ...serving.draining]).map((pool) => pool.stopAll(5_000)));
  }

  private state(serving: ServingApp): AppState {
    if (this.deploying.has(serving.record.name)) return 'deploying';
    return serving.live.lastStartError && !serving.live.runnerInfo().some((runner) => runner.state === 'idle' || runner.state === 'busy') ? 'failing' : 'live';
  }

  private cost(serving: ServingApp): number {
    return serving.record.costUsd + serving.live.liveCost() + [...serving.draining].reduce((sum, pool) => sum + pool.liveCost(), 0);
  }

  summary(name: string): AppSummary {
    const serving = this.serving(name);
    const { revision } = serving.live;
    return {
      name,
      state: this.state(serving),
      revision: revision.revision,
      className: revision.className,
      machineType: revision.config.machineTypes[0]!,
      runners: serving.live.runners.size + [...serving.draining].reduce((sum, pool) => sum + pool.runners.size, 0),
      url: `${this.deps.publicUrl()}/${name}`,
      updatedAt: serving.record.updatedAt,
      costUsd: this.cost(serving),
    };
  }

  list(): AppSummary[] {
    return [...this.apps.keys()].sort().map((name) => this.summary(name));
  }

  detail(name: string): AppDetail {
    const serving = this.serving(name);
    const { revision } = serving.live;
    const endpoints: EndpointInfo[] = revision.endpoints.map((endpoint) => ({
      path: endpoint.path,
      url: `${this.deps.publicUrl()}/${name}${endpoint.path === '/' ? '' : endpoint.path}`,
      functionName: endpoint.functionName,
      isHealth: revision.config.endpoints.find((candidate) => candidate.path === endpoint.path)?.isHealth ?? false,
      isAsync: endpoint.isAsync,
      inputSchema: endpoint.inputSchema,
    }));
    return {
      ...this.summary(name),
      entry: revision.entry,
      python: revision.python,
      config: revision.config,
      scale: serving.live.scale,
      scaleOverrides: serving.record.scaleOverrides,
      endpoints,
      runnerDetails: [serving.live, ...serving.draining].flatMap((pool) => pool.runnerInfo()),
      queued: serving.live.queued,
      inFlight: serving.live.inFlightCount,
      warnings: [...serving.warnings, ...(serving.live.lastStartError ? [serving.live.lastStartError] : [])],
      starts: serving.live.starts,
    };
  }

  /** Which apps use each volume, for the volumes listing. */
  volumeUsers(): Map<string, string[]> {
    const users = new Map<string, string[]>();
    for (const [name, serving] of this.apps) {
      for (const volume of serving.live.revision.config.volumes) users.set(volume.volume, [...(users.get(volume.volume) ?? []), name]);
    }
    return users;
  }

  pools(): RevisionPool[] {
    return [...this.apps.values()].flatMap((serving) => [serving.live, ...serving.draining]);
  }
}
