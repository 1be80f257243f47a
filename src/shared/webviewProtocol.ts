/**
 * Everything the extension and its webviews (the endpoint tester and the usage dashboard) say
 * to each other, declared once and imported by both sides. What a page says is checked on
 * arrival (parseTesterMessage, parseDashboardMessage): a page is a browser context, and the
 * extension acts on its messages with the user's token.
 */
import type { UsageResponse } from './api';

// ---- the endpoint tester --------------------------------------------------------------------

export type InvokeMode = 'sync' | 'queue';

/** An endpoint by name: its app, and its path in the app. */
export interface EndpointRef {
  app: string;
  path: string;
}

/** The endpoint the tester shows, as the runtime reports it. */
export interface TesterEndpoint extends EndpointRef {
  url: string;
  /** JSON Schema of the request body, from the endpoint's type hints or pydantic model. */
  inputSchema: Record<string, unknown>;
  machineType: string;
  /** The runner's price per second (times its GPUs), for the cost of a request. */
  pricePerSecond: number;
}

/** An image found in a response: where in the body (a JSON pointer) and the picture itself. */
/**
 * One key as a segment of a JSON pointer (RFC 6901): the host names where a picture is in the
 * response this way, and the page finds the value it belongs to by the same name.
 */
export function pointerSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

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

export type SnippetKind = 'curl' | 'fal-client';

export type TesterToExtension =
  /** The page loaded (again): send it the endpoint. */
  | { type: 'ready' }
  | { type: 'send'; input: Record<string, unknown>; mode: InvokeMode }
  /** Stop waiting; a queued request is cancelled on the runtime. */
  | { type: 'cancel' }
  | { type: 'copy'; as: SnippetKind; input: Record<string, unknown> }
  | { type: 'switchEndpoint'; app: string; path: string };

export type ExtensionToTester =
  | {
    type: 'endpoint';
    endpoint: TesterEndpoint;
    /** The other endpoints of the runtime's apps, to switch to. */
    others: EndpointRef[];
    history: HistoryEntry[];
    /** An input to put in the form (a history entry picked, or the last one sent). */
    input?: Record<string, unknown>;
  }
  /** The endpoint is not (or no longer) deployed. */
  | { type: 'missing'; app: string; path: string; reason: string }
  | TesterRequestUpdate;

/** How a request goes, from sending to its answer. */
export type TesterRequestEvent =
  | { type: 'sending'; mode: InvokeMode }
  | { type: 'queued'; requestId: string; position: number }
  | { type: 'running'; requestId: string | null }
  | { type: 'log'; lines: string[] }
  | { type: 'response'; response: TesterResponse; history: HistoryEntry[] }
  /** The request (or a copy) failed: the runtime is unreachable, the request was cancelled. */
  | { type: 'failed'; message: string };

/**
 * A request's event with the endpoint it was sent to: the page shows only what is about the
 * endpoint it shows, so an answer never lands under another.
 */
export type TesterRequestUpdate = TesterRequestEvent & { target: EndpointRef };

// ---- the usage dashboard --------------------------------------------------------------------

/** The windows the dashboard offers, in hours, with their labels. */
export const DASHBOARD_RANGES = [[1, 'Last hour'], [6, 'Last 6 hours'], [24, 'Last 24 hours'], [168, 'Last 7 days']] as const;
export type DashboardHours = (typeof DASHBOARD_RANGES)[number][0];

export type DashboardToExtension =
  | { type: 'ready' }
  | { type: 'range'; hours: DashboardHours };

export type ExtensionToDashboard =
  | { type: 'usage'; usage: UsageResponse; hours: number; now: string }
  | { type: 'unavailable'; reason: string };

// ---- checking what a page says ----------------------------------------------------------------

type Fields = Record<string, unknown>;

const isFields = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A JSON object as a form reads it: not an array, not null, not a class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isFields(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/**
 * An app name as a URL segment. The runtime holds names to the full rule (appconfig/names.ts);
 * that module is not imported here, so the pages' bundles stay free of what it pulls in.
 */
const APP_NAME = /^[a-z0-9-]+$/;

const isEndpointPath = (value: unknown): value is string => typeof value === 'string' && value.startsWith('/') && value.length <= 1024;

/** A message from the tester's page, or undefined when it is not one the tester sends. */
export function parseTesterMessage(raw: unknown): TesterToExtension | undefined {
  if (!isFields(raw)) return undefined;
  switch (raw.type) {
    case 'ready':
    case 'cancel':
      return { type: raw.type };
    case 'send':
      return isPlainObject(raw.input) && (raw.mode === 'sync' || raw.mode === 'queue') ? { type: 'send', input: raw.input, mode: raw.mode } : undefined;
    case 'copy':
      return isPlainObject(raw.input) && (raw.as === 'curl' || raw.as === 'fal-client') ? { type: 'copy', as: raw.as, input: raw.input } : undefined;
    case 'switchEndpoint':
      return typeof raw.app === 'string' && APP_NAME.test(raw.app) && isEndpointPath(raw.path)
        ? { type: 'switchEndpoint', app: raw.app, path: raw.path } : undefined;
    default:
      return undefined;
  }
}

/** A message from the dashboard's page, or undefined when it is not one the dashboard sends. */
export function parseDashboardMessage(raw: unknown): DashboardToExtension | undefined {
  if (!isFields(raw)) return undefined;
  if (raw.type === 'ready') return { type: 'ready' };
  const range = DASHBOARD_RANGES.find(([hours]) => hours === raw.hours);
  return raw.type === 'range' && range ? { type: 'range', hours: range[0] } : undefined;
}
