/**
 * The runners of one revision of one app, and the requests waiting for them. The pool keeps
 *
 *   desired = clamp(ceil((in_flight + queued) / max_multiplexing) + concurrency_buffer,
 *                   min_concurrency, max_concurrency)
 *
 * runners, queues requests beyond what they can take, retires runners idle for keep_alive,
 * replaces crashed ones (with backoff when they fail to start), and meters what they cost.
 */
import { randomBytes } from 'node:crypto';
import { costOfRunnerSeconds, findMachineType, runnerRate } from '../../appconfig';
import type { RunnerInfo, ScaleSettings, StartsInfo } from '../../shared/api';
import type { RevisionRecord } from '../deploys/store';
import { reportFault } from '../faults';
import type { LogStore } from '../observability/logs';
import type { GpuAllocator, Placement } from './gpu';
import { exitDescription, type Runner, RunnerStartError } from './runner';
import type { RunnerStarter } from './starter';
import type { InvokeResult } from './workerProtocol';

export interface InvokeOutcome {
  result: InvokeResult;
  runner: string | null;
  queueMs: number;
  /** Set when the request waited for a runner to start: that runner's cold start. */
  coldStartMs: number | null;
  /** fal's X-Fal-Error-Type for failures of the platform rather than the app. */
  errorType?: 'request_timeout' | 'startup_timeout' | 'runner_scheduling_failure' | 'runner_disconnected';
}

export interface PendingRequest {
  id: string;
  path: string;
  input: Record<string, unknown>;
  enqueuedAt: number;
  settle(outcome: InvokeOutcome): void;
  /** Called when a runner takes the request (the queue API reports IN_PROGRESS). */
  onStart?(runner: string): void;
}

export interface PoolDeps {
  logs: LogStore;
  gpus: GpuAllocator;
  /** Starts the revision's runners (forked from its template, or afresh); closed once the pool has stopped them all. */
  starter: Pick<RunnerStarter, 'start' | 'close' | 'info' | 'prepared'>;
  /** A runner was started: who owns the pool follows it too (its cold start, its events). */
  started(runner: Runner): void;
  /** Runners one app may have when only the CPU limits it. */
  cpuRunnerLimit: number;
  /** Seconds a request may run when the app sets no request_timeout. */
  defaultRequestTimeoutS: number;
  /** Adds the cost of a runner that stopped to the app's total. */
  meter(usd: number): void;
}

const MAX_BACKOFF_MS = 30_000;

/** How long setup() may take when the app sets no startup_timeout. */
export const DEFAULT_STARTUP_TIMEOUT_S = 1800;
/** setTimeout's longest delay (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How often idle runners are checked against keep_alive. */
const SWEEP_MS = 500;
/** Failed starts in a row after which queued requests are failed instead of held. */
const START_FAILURES_BEFORE_REJECTING = 1;

interface InFlight {
  request: PendingRequest;
  runner: Runner;
  timer?: NodeJS.Timeout;
}

export class RevisionPool {
  readonly runners = new Map<string, Runner>();
  private readonly queue: PendingRequest[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  private consecutiveFailures = 0;
  private retryAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private accepting = true;
  /** False while a deploy warms the revision up: its runners must not retire before it serves. */
  private active = false;
  /** True while a deploy of a newer revision needs this one's GPUs: no new runners start. */
  private startsPaused = false;
  /** The last reason runners could not start, shown on the app. */
  lastStartError: string | null = null;

  constructor(readonly revision: RevisionRecord, public scale: ScaleSettings, private readonly deps: PoolDeps) {
    this.sweeper = setInterval(() => this.reconcile(), SWEEP_MS);
    this.sweeper.unref();
  }

  get app(): string {
    return this.revision.app;
  }

  get queued(): number {
    return this.queue.length;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private live(): Runner[] {
    return [...this.runners.values()].filter((runner) => !runner.exited && !runner.stopping);
  }

  /** The most runners this app may have: max_concurrency, else what the host holds. */
  private ceiling(): number {
    const { config } = this.revision;
    const hostLimit = this.deps.gpus.capacity(config.machineTypes, config.numGpus) ?? this.deps.cpuRunnerLimit;
    return Math.min(this.scale.maxConcurrency ?? hostLimit, hostLimit);
  }

  desiredRunners(): number {
    const load = this.inFlight.size + this.queue.length;
    const wanted = Math.ceil(load / this.scale.maxMultiplexing) + this.scale.concurrencyBuffer;
    return Math.min(Math.max(wanted, this.scale.minConcurrency), this.ceiling());
  }

  submit(request: PendingRequest): void {
    this.queue.push(request);
    this.reconcile();
  }

  /** Cancels a queued or running request; false when it is unknown (already finished). */
  cancel(id: string): boolean {
    const index = this.queue.findIndex((request) => request.id === id);
    if (index >= 0) {
      const [request] = this.queue.splice(index, 1);
      request!.settle({ result: cancelledResult(id), runner: null, queueMs: Date.now() - request!.enqueuedAt, coldStartMs: null });
      return true;
    }
    const running = this.inFlight.get(id);
    if (!running) return false;
    running.runner.cancel(id);
    return true;
  }

  /** Starts one runner now: the deploy waits on it before the revision serves. */
  startOne(): Runner {
    const placement = this.deps.gpus.place(this.revision.config.machineTypes, this.revision.config.numGpus);
    if (placement.kind === 'impossible') throw new RunnerStartError(placement.message, 'placement', null);
    if (placement.kind === 'busy') {
      throw new RunnerStartError(`Every GPU that fits ${this.revision.config.machineTypes.join(' or ')} is busy serving requests; retry when they finish, or delete an app that holds one.`, 'gpus-busy', null);
    }
    return this.launch(placement);
  }

  /** Called when the revision starts serving: from now on idle runners retire after keep_alive. */
  activate(): void {
    this.active = true;
    this.reconcile();
  }

  private launch(placement: Extract<Placement, { kind: 'placed' }>): Runner {
    const id = `${this.app}-r${this.revision.revision}-${randomBytes(3).toString('hex')}`;
    this.system(`Starting runner ${id} on ${placement.machineType.name}${placement.gpus.length ? ` (GPU ${placement.gpus.join(', ')})` : placement.cpuFallback ? ' (on CPU: no matching GPU on this host)' : ''}.`, id);
    let runner: Runner;
    try {
      // A worker's thread pool is sized at start: a scale change reaches runners started after it.
      runner = this.deps.starter.start(id, placement, this.scale.maxMultiplexing);
    } catch (error) {
      this.deps.gpus.release(placement.gpus);
      throw error;
    }
    this.deps.started(runner);
    this.runners.set(id, runner);
    this.watch(runner, placement);
    return runner;
  }

  private system(text: string, runner: string | null = null, level: 'info' | 'warning' | 'error' = 'info'): void {
    this.deps.logs.append({ app: this.app, revision: this.revision.revision, runner, stream: 'system', level, text });
  }

  /** Follows a runner to readiness and to its exit. */
  private watch(runner: Runner, placement: Extract<Placement, { kind: 'placed' }>): void {
    const startupTimeout = this.revision.config.startupTimeout ?? DEFAULT_STARTUP_TIMEOUT_S;
    // A runner stopped for taking too long failed to start: that counts toward the backoff.
    let timedOut = false;
    const timer = setTimeout(() => {
      if (runner.isReady) return;
      timedOut = true;
      this.system(`Runner ${runner.id} did not finish setup within startup_timeout (${startupTimeout} s); stopping it.`, runner.id, 'error');
      runner.kill();
    }, startupTimeout * 1000);
    runner.ready.then(() => {
      clearTimeout(timer);
      this.consecutiveFailures = 0;
      this.lastStartError = null;
      this.reconcile();
    }, (error: Error) => {
      clearTimeout(timer);
      if (runner.stopping && !timedOut) return;
      const reason = timedOut ? `setup() did not finish within startup_timeout (${startupTimeout} s).` : error.message;
      this.consecutiveFailures++;
      const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.consecutiveFailures - 1));
      this.retryAt = Date.now() + delay;
      this.lastStartError = reason;
      this.system(`Runner ${runner.id} failed to start: ${reason} Retrying in ${Math.round(delay / 1000)} s.`, runner.id, 'error');
      if (this.consecutiveFailures >= START_FAILURES_BEFORE_REJECTING && !this.live().some((other) => other.isReady)) {
        this.rejectQueued(`The app's runners fail to start: ${reason} See its logs (kiln logs ${this.app}).`, 'runner_scheduling_failure');
      }
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.reconcile(), delay);
      this.retryTimer.unref();
    }).catch((error: unknown) => reportFault(`following runner ${runner.id} to readiness`, error));
    runner.exit.then(({ code, signal }) => {
      clearTimeout(timer);
      this.deps.gpus.release(placement.gpus);
      this.runners.delete(runner.id);
      const cost = this.costOf(runner, Date.now());
      if (!runner.stopping && runner.readyAt !== null) {
        this.system(`Runner ${runner.id} ${exitDescription(code, signal)}; a new runner replaces it when needed.`, runner.id, 'error');
      }
      this.reconcile();
      this.deps.meter(cost);
    }).catch((error: unknown) => reportFault(`following runner ${runner.id} to its exit`, error));
  }

  private rejectQueued(detail: string, errorType: InvokeOutcome['errorType']): void {
    const now = Date.now();
    for (const request of this.queue.splice(0)) {
      request.settle({
        result: { type: 'result', id: request.id, ok: false, status: 503, detail, executionMs: 0 },
        runner: null, queueMs: now - request.enqueuedAt, coldStartMs: null, errorType,
      });
    }
  }

  /** Brings runners to the desired count, hands queued requests to free runners, retires idle ones. */
  reconcile(): void {
    if (!this.accepting && this.queue.length === 0 && this.inFlight.size === 0) return;
    this.dispatch();
    const live = this.live();
    const desired = this.desiredRunners();
    if (this.accepting && !this.startsPaused && live.length < desired && Date.now() >= this.retryAt) {
      for (let count = live.length; count < desired; count++) {
        const placement = this.deps.gpus.place(this.revision.config.machineTypes, this.revision.config.numGpus);
        if (placement.kind === 'busy') break;
        if (placement.kind === 'impossible') {
          this.lastStartError = placement.message;
          this.rejectQueued(placement.message, 'runner_scheduling_failure');
          break;
        }
        try {
          this.launch(placement);
        } catch (error) {
          this.lastStartError = (error as Error).message;
          this.rejectQueued((error as Error).message, 'runner_scheduling_failure');
          break;
        }
      }
    }
    this.retireIdle(desired);
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const runner = this.live()
        .filter((candidate) => candidate.hasCapacity)
        .sort((a, b) => a.inFlight - b.inFlight)[0];
      if (!runner) return;
      const request = this.queue.shift()!;
      this.run(request, runner);
    }
  }

  private run(request: PendingRequest, runner: Runner): void {
    const startedAt = Date.now();
    const queueMs = startedAt - request.enqueuedAt;
    // A request that waited while its runner was being set up paid that runner's cold start.
    const coldStartMs = runner.readyAt !== null && runner.readyAt > request.enqueuedAt ? runner.coldStartMs : null;
    const entry: InFlight = { request, runner };
    this.inFlight.set(request.id, entry);
    request.onStart?.(runner.id);
    const appTimeout = this.revision.config.requestTimeout;
    const timeout = appTimeout ?? this.deps.defaultRequestTimeoutS;
    let timedOut = false;
    entry.timer = setTimeout(() => {
      timedOut = true;
      this.inFlight.delete(request.id);
      this.system(`Request ${request.id} ran past its ${timeout} s timeout; replacing runner ${runner.id}.`, runner.id, 'error');
      const detail = appTimeout !== null
        ? `The request ran longer than the app's request_timeout of ${timeout} s.`
        : `The request ran longer than ${timeout} s, the runtime's timeout for apps that set no request_timeout.`;
      request.settle({
        result: { type: 'result', id: request.id, ok: false, status: 504, detail, executionMs: Date.now() - startedAt },
        runner: runner.id, queueMs, coldStartMs, errorType: 'request_timeout',
      });
      // A handler that ignores its deadline cannot be stopped from outside its process.
      runner.kill();
    }, Math.min(timeout * 1000, MAX_TIMER_MS));
    const finish = (result: InvokeResult, errorType?: InvokeOutcome['errorType']) => {
      clearTimeout(entry.timer);
      if (timedOut) return;
      this.inFlight.delete(request.id);
      request.settle({ result, runner: runner.id, queueMs, coldStartMs, ...(errorType ? { errorType } : {}) });
      this.reconcile();
    };
    runner.invoke(request.id, request.path, request.input).then((reply) => {
      if (reply.type === 'disconnected') {
        finish({ type: 'result', id: request.id, ok: false, status: 503, detail: reply.detail, executionMs: Date.now() - startedAt }, 'runner_disconnected');
        return;
      }
      if (!reply.ok && reply.fatal) {
        this.system(`Runner ${runner.id} hit a GPU fault (${reply.errorType ?? 'error'}); replacing it.`, runner.id, 'error');
        this.stopRunner(runner, 0);
      }
      finish(reply);
    }).catch((error: Error) => {
      // A fault of the runtime's own: this request fails with it, and nothing else does.
      this.system(`Request ${request.id} failed inside the runtime: ${error.message}`, runner.id, 'error');
      finish({ type: 'result', id: request.id, ok: false, status: 500, detail: `Internal error: ${error.message}`, executionMs: Date.now() - startedAt });
    });
  }

  /** Stops a runner in the background; its exit is what the pool follows. */
  private stopRunner(runner: Runner, graceMs: number): void {
    runner.stop(graceMs).catch((error: Error) => {
      this.system(`Stopping runner ${runner.id} failed (${error.message}); killing it.`, runner.id, 'error');
      runner.kill();
    });
  }

  private retireIdle(desired: number): void {
    if (!this.active) return;
    const keepAliveMs = this.scale.keepAlive * 1000;
    const now = Date.now();
    let live = this.live();
    const idle = live
      .filter((runner) => runner.isReady && runner.inFlight === 0 && now - runner.idleSince >= keepAliveMs)
      .sort((a, b) => a.idleSince - b.idleSince);
    for (const runner of idle) {
      if (live.length <= desired) break;
      this.system(`Stopping runner ${runner.id}: idle for ${Math.round((now - runner.idleSince) / 1000)} s (keep_alive ${this.scale.keepAlive} s).`, runner.id);
      this.stopRunner(runner, 5_000);
      live = live.filter((candidate) => candidate !== runner);
    }
  }

  /**
   * Makes room for a newer revision on the GPUs this one holds: stops its idle GPU runners and
   * starts no others until `resumeStarts` (the deploy failed) or the pool drains (it succeeded).
   */
  async releaseIdleGpus(): Promise<number> {
    this.startsPaused = true;
    const idle = this.live().filter((runner) => runner.isReady && runner.inFlight === 0 && runner.options.gpus.length > 0);
    for (const runner of idle) this.system(`Stopping runner ${runner.id} to free its GPUs for a new revision.`, runner.id);
    await Promise.all(idle.map((runner) => runner.stop(5_000)));
    return idle.length;
  }

  resumeStarts(): void {
    this.startsPaused = false;
    this.reconcile();
  }

  setScale(scale: ScaleSettings): void {
    this.scale = scale;
    this.reconcile();
  }

  /** Stops taking requests and hands back those still queued (a new revision takes them). */
  stopAccepting(): PendingRequest[] {
    this.accepting = false;
    return this.queue.splice(0);
  }

  /** Waits for in-flight requests, then stops every runner (teardown runs). */
  async drain(graceMs: number): Promise<void> {
    this.accepting = false;
    const deadline = Date.now() + graceMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await this.stopAll(Math.max(0, deadline - Date.now()));
  }

  async stopAll(graceMs: number): Promise<void> {
    this.accepting = false;
    clearInterval(this.sweeper);
    clearTimeout(this.retryTimer);
    this.rejectQueued('The app was stopped before this request ran.', 'runner_scheduling_failure');
    await Promise.all([...this.runners.values()].map((runner) => runner.stop(graceMs)));
    this.deps.starter.close();
  }

  /** How runners start; settles once that is known, and rejects when the app fails in its template. */
  get starts(): StartsInfo {
    return this.deps.starter.info;
  }

  prepareStarts(): Promise<StartsInfo> {
    return this.deps.starter.prepared;
  }

  /** A runner's cost from its start until `now`: runner-seconds × its machine type's price × GPUs. */
  private costOf(runner: Runner, now: number): number {
    const type = findMachineType(runner.options.machineType);
    return type ? costOfRunnerSeconds(runnerRate(type, this.revision.config.numGpus), (now - runner.startedAt) / 1000) : 0;
  }

  /** What live runners have cost so far (stopped ones are already in the app's total). */
  liveCost(): number {
    const now = Date.now();
    return [...this.runners.values()].reduce((sum, runner) => sum + this.costOf(runner, now), 0);
  }

  runnerInfo(): RunnerInfo[] {
    return [...this.runners.values()].map((runner) => runner.info());
  }
}

function cancelledResult(id: string): InvokeResult {
  return { type: 'result', id, ok: false, status: 499, detail: 'Request cancelled', executionMs: 0 };
}
