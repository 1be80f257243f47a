/**
 * The runtime's HTTP API: every request and response body, declared once. The runtime
 * implements these shapes; src/client speaks them for the extension, the CLI and the tests.
 */
import type { AppConfig } from '../appconfig/schema';

// ---- service --------------------------------------------------------------------------------

export interface GpuInfo {
  index: number;
  name: string;
  memoryMiB: number;
  uuid: string;
}

export interface HealthResponse {
  version: string;
  pid: number;
  url: string;
  dataDir: string;
  startedAt: string;
  gpus: GpuInfo[];
  /** What GPU apps do on a host without the GPUs they ask for. */
  gpuFallback: 'cpu' | 'fail';
  python: { path: string; version: string | null };
  /** Whether runners are sandboxed with bubblewrap (volumes mounted at their paths). */
  sandbox: boolean;
  /** Whether runners are forked from warm templates (else each starts as a fresh process). */
  templates: boolean;
}

/** What `runtime.json` in the data directory holds (mode 0600). */
export interface RuntimeInfo {
  url: string;
  token: string;
  pid: number;
  dataDir: string;
  version: string;
  startedAt: string;
}

// ---- deploys --------------------------------------------------------------------------------

export interface DeployRequest {
  /** The entry file's path relative to the uploaded folder, e.g. "app.py". */
  entry: string;
  /** Relative path -> UTF-8 source: the entry and the local modules it imports. */
  files: Record<string, string>;
  /** The app's name; by default the class's `name=` keyword or its kebab-case name. */
  name?: string;
  /** Which fal.App class, when the file defines several. */
  className?: string;
  /** The Python interpreter for this app; by default the runtime's. */
  python?: string;
  /** Forget scale settings changed with `kiln scale` and use the code's again. */
  resetScale?: boolean;
}

export type DeployStep = 'validate' | 'environment' | 'inspect' | 'starting-runner' | 'setup' | 'health' | 'live';

/** Server-sent events of a deploy, in order; the stream ends after `done` or `failed`. */
export type DeployEvent =
  | { type: 'started'; deployId: string; app: string | null }
  | { type: 'step'; step: DeployStep; message: string }
  /** A line of build or setup output. */
  | { type: 'log'; step: DeployStep; text: string }
  | { type: 'warning'; message: string }
  | { type: 'done'; app: AppDetail }
  | { type: 'failed'; step: DeployStep; error: DeployError };

export interface DeployError {
  message: string;
  /** The user's file and 1-based line, where the failure has one. */
  file?: string;
  line?: number;
  /** A validation problem's code, for failures found by the configuration checks. */
  code?: string;
  /** Every configuration problem found, when validation failed. */
  problems?: { code: string; severity: string; message: string; line?: number }[];
}

// ---- apps -----------------------------------------------------------------------------------

export type RunnerState = 'starting' | 'setup' | 'idle' | 'busy' | 'stopping';

export interface RunnerInfo {
  id: string;
  revision: number;
  state: RunnerState;
  pid: number | null;
  machineType: string;
  /** GPU indexes given to the runner; empty on CPU. */
  gpus: number[];
  /** True when the app asked for a GPU and the runner runs on CPU instead. */
  cpuFallback: boolean;
  startedAt: string;
  uptimeSeconds: number;
  inFlight: number;
  requestsServed: number;
  /** Cold start: spawn (or fork) to ready, once ready. */
  coldStartMs: number | null;
  /** How it started: forked from the template (after its setup() snapshot), or a fresh process. */
  start: StartMode;
}

export interface EndpointInfo {
  path: string;
  url: string;
  functionName: string;
  isHealth: boolean;
  isAsync: boolean;
  inputSchema: Record<string, unknown>;
}

export interface ScaleSettings {
  minConcurrency: number;
  maxConcurrency: number | null;
  keepAlive: number;
  concurrencyBuffer: number;
  maxMultiplexing: number;
}

export type AppState = 'deploying' | 'live' | 'failing' | 'stopped';

/**
 * How the app's runners start: forked from a template that imported the app (`fork`), forked
 * from one that also ran setup() (`snapshot`), or as fresh Python processes (`spawn`).
 */
export type StartMode = 'fork' | 'snapshot' | 'spawn';

export interface StartsInfo {
  mode: StartMode;
  /** Why not the fastest mode the app asked for, when it is not. */
  reason: string | null;
}

export interface AppSummary {
  name: string;
  state: AppState;
  revision: number;
  className: string;
  machineType: string;
  runners: number;
  url: string;
  updatedAt: string;
  costUsd: number;
}

export interface AppDetail extends AppSummary {
  entry: string;
  python: string;
  config: AppConfig;
  scale: ScaleSettings;
  /** Scale settings changed at runtime, kept across redeploys until reset. */
  scaleOverrides: Partial<ScaleSettings>;
  endpoints: EndpointInfo[];
  runnerDetails: RunnerInfo[];
  queued: number;
  inFlight: number;
  warnings: string[];
  starts: StartsInfo;
}

/** Scale settings to change at runtime; `reset` first drops every earlier change, back to the code's. */
export type ScaleRequest = Partial<ScaleSettings> & { reset?: boolean };

// ---- logs -----------------------------------------------------------------------------------

export type LogStream = 'stdout' | 'stderr' | 'system';
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface LogRecord {
  /** Monotonic per app, so a follower can resume after the last one it saw. */
  seq: number;
  time: string;
  app: string;
  revision: number;
  runner: string | null;
  stream: LogStream;
  level: LogLevel;
  text: string;
}

export interface LogQuery {
  /** ISO time, or a duration back from now such as "10m", "2h". */
  since?: string;
  tail?: number;
  runner?: string;
  search?: string;
  /** Only records after this seq: how a follower resumes without gaps or repeats. */
  after?: number;
  follow?: boolean;
}

// ---- secrets and volumes --------------------------------------------------------------------

export interface SecretInfo {
  name: string;
  updatedAt: string;
}

export interface VolumeInfo {
  name: string;
  path: string;
  sizeBytes: number;
  apps: string[];
}

// ---- events and usage ------------------------------------------------------------------------

/**
 * What happens on the runtime, as `GET /v1/events` streams it (server-sent events, one JSON
 * object each). Watchers (the editor's apps view, its status bar) refetch what an event names
 * instead of polling.
 */
export type RuntimeEvent =
  | { type: 'deploy.started'; deployId: string; app: string | null }
  | { type: 'deploy.finished'; deployId: string; app: string | null; ok: boolean; revision?: number; error?: string }
  | { type: 'app.deployed'; app: string; revision: number }
  | { type: 'app.deleted'; app: string }
  | { type: 'app.scaled'; app: string; scale: ScaleSettings }
  | { type: 'runner.started'; app: string; revision: number; runner: string }
  | { type: 'runner.ready'; app: string; revision: number; runner: string; coldStartMs: number | null }
  | { type: 'runner.stopped'; app: string; revision: number; runner: string }
  | { type: 'secret.set'; name: string }
  | { type: 'secret.unset'; name: string };

/** An event as sent: numbered in the order the runtime published them since it started. */
export type RuntimeEventRecord = RuntimeEvent & { seq: number; time: string };

/**
 * One app's use of one minute (`time` is the minute's start): requests answered and how long
 * they took, runners at the end of the minute, and the app's cost so far (cumulative).
 */
export interface UsageSample {
  time: string;
  app: string;
  requests: number;
  errors: number;
  /** Latency percentiles of the minute's requests, arrival to answer; null with no requests. */
  p50Ms: number | null;
  p95Ms: number | null;
  runners: number;
  costUsd: number;
}

/** `GET /v1/usage?since=ISO`: the minutes since then, the current one (partial) last. */
export interface UsageResponse {
  stepSeconds: number;
  since: string;
  samples: UsageSample[];
  /** What each app cost from `since` until now, deleted apps included. */
  costSince: { app: string; usd: number }[];
}

// ---- queue (fal's shapes) -------------------------------------------------------------------

export interface QueueSubmitResponse {
  request_id: string;
  response_url: string;
  status_url: string;
  cancel_url: string;
}

export type QueueStatus =
  | { status: 'IN_QUEUE'; queue_position: number; request_id: string; response_url: string; status_url: string; cancel_url: string }
  | { status: 'IN_PROGRESS'; request_id: string; response_url: string; status_url: string; cancel_url: string; logs?: QueueLog[] }
  | { status: 'COMPLETED'; request_id: string; response_url: string; status_url: string; cancel_url: string; logs?: QueueLog[]; metrics: { inference_time: number | null }; error?: string };

export interface QueueLog {
  message: string;
  level: string;
  source: string;
  timestamp: string;
}

/** The response headers every invocation carries. */
export const INVOKE_HEADERS = {
  requestId: 'x-fal-request-id',
  errorType: 'x-fal-error-type',
  runner: 'x-kiln-runner-id',
  revision: 'x-kiln-revision',
  queueMs: 'x-kiln-queue-ms',
  coldStartMs: 'x-kiln-cold-start-ms',
  executionMs: 'x-kiln-execution-ms',
} as const;

/** The body of every error the runtime itself returns: fal's `{"detail": ...}`. */
export interface ErrorBody {
  detail: unknown;
}
