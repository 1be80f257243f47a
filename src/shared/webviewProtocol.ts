/**
 * Everything the extension and its webviews (the endpoint tester and the usage dashboard) say
 * to each other, declared once and imported by both sides.
 */
import type { UsageResponse } from './api';

// ---- the endpoint tester --------------------------------------------------------------------

export type InvokeMode = 'sync' | 'queue';

/** The endpoint the tester shows, as the runtime reports it. */
export interface TesterEndpoint {
  app: string;
  path: string;
  url: string;
  /** JSON Schema of the request body, from the endpoint's type hints or pydantic model. */
  inputSchema: Record<string, unknown>;
  machineType: string;
  /** The runner's price per second (times its GPUs), for the cost of a request. */
  pricePerSecond: number;
}

/** An image found in a response: where in the body (a JSON pointer) and the picture itself. */
export interface ResponseImage {
  pointer: string;
  /** A data: URI, fetched by the extension, so the webview loads nothing from the network. */
  dataUri: string;
}

export interface TesterTiming {
  /** Send to answer, as the extension measured it. */
  totalMs: number;
  /** The runtime's x-kiln-* headers (queue mode: its status metrics); null when it did not say. */
  queueMs: number | null;
  coldStartMs: number | null;
  executionMs: number | null;
}

export interface TesterResponse {
  mode: InvokeMode;
  status: number;
  body: unknown;
  images: ResponseImage[];
  timing: TesterTiming;
  /** Execution time at the machine type's price. */
  costUsd: number | null;
  requestId: string | null;
  runner: string | null;
  revision: number | null;
  errorType: string | null;
}

/** One request sent from the tester, kept per endpoint across restarts. */
export interface HistoryEntry {
  input: Record<string, unknown>;
  mode: InvokeMode;
  time: string;
  status: number;
  totalMs: number;
}

export type TesterToExtension =
  /** The page loaded (again): send it the endpoint. */
  | { type: 'ready' }
  | { type: 'send'; input: Record<string, unknown>; mode: InvokeMode }
  /** Stop waiting; a queued request is cancelled on the runtime. */
  | { type: 'cancel' }
  | { type: 'copy'; as: 'curl' | 'fal-client'; input: Record<string, unknown> }
  | { type: 'switchEndpoint'; app: string; path: string };

export type ExtensionToTester =
  | {
    type: 'endpoint';
    endpoint: TesterEndpoint;
    /** The other endpoints of the runtime's apps, to switch to. */
    others: { app: string; path: string }[];
    history: HistoryEntry[];
    /** An input to put in the form (a history entry picked, or the last one sent). */
    input?: Record<string, unknown>;
  }
  /** The endpoint is not (or no longer) deployed. */
  | { type: 'missing'; app: string; path: string; reason: string }
  | { type: 'sending'; mode: InvokeMode }
  | { type: 'queued'; requestId: string; position: number }
  | { type: 'running'; requestId: string | null }
  | { type: 'log'; lines: string[] }
  | { type: 'response'; response: TesterResponse; history: HistoryEntry[] }
  /** The request never got an answer: the runtime is unreachable, or it was cancelled. */
  | { type: 'failed'; message: string };

// ---- the usage dashboard --------------------------------------------------------------------

export type DashboardToExtension =
  | { type: 'ready' }
  | { type: 'range'; hours: number };

export type ExtensionToDashboard =
  | { type: 'usage'; usage: UsageResponse; hours: number; now: string }
  | { type: 'unavailable'; reason: string };
