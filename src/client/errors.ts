/**
 * What can go wrong talking to a runtime, as types the CLI and the extension tell apart: the
 * runtime said no (KilnApiError), nothing answered (RuntimeUnreachableError, NoRuntimeError), or
 * a deploy failed or was cancelled. Messages never include the token.
 */
import type { DeployError, DeployStep } from '../shared/api';

/** The runtime answered with an error status; `detail` is its `{"detail": ...}` as sent. */
export class KilnApiError extends Error {
  override readonly name = 'KilnApiError';

  constructor(
    readonly status: number,
    readonly detail: unknown,
    readonly method: string,
    readonly path: string,
  ) {
    super(describeApiError(status, detail));
  }
}

function describeApiError(status: number, detail: unknown): string {
  if (status === 401) {
    return 'the runtime refused the token (401): use the token from its runtime.json, or set KILN_URL and KILN_TOKEN together';
  }
  return formatDetail(detail) || `the runtime answered ${status} with no detail`;
}

/**
 * A runtime's or an app's `detail` as one line: a string as is, fal's validation list as
 * "body.prompt: Field required; body.steps: ...", anything else as JSON.
 */
export function formatDetail(detail: unknown): string {
  if (detail === undefined || detail === null) return '';
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => {
      if (item && typeof item === 'object' && 'msg' in item) {
        const { loc, msg } = item as { loc?: unknown; msg: unknown };
        const where = Array.isArray(loc) ? loc.join('.') : '';
        return where ? `${where}: ${String(msg)}` : String(msg);
      }
      return typeof item === 'string' ? item : JSON.stringify(item);
    }).join('; ');
  }
  return JSON.stringify(detail);
}

/** Nothing answered at the URL: the runtime is not running, or the URL is wrong. */
export class RuntimeUnreachableError extends Error {
  override readonly name = 'RuntimeUnreachableError';
  /**
   * True when the connection was refused, so the request never reached a runtime and sending it
   * again is safe; false when it broke later, when a deploy or invoke may already be under way.
   */
  readonly neverSent: boolean;

  constructor(readonly url: string, options?: { cause?: unknown }) {
    super(`no Kiln runtime at ${displayUrl(url)}: start one with \`kiln runtime start\``, options);
    this.neverSent = causeCodes(options?.cause).includes('ECONNREFUSED');
  }
}

/** The error codes along a cause chain (fetch wraps the socket's error in its own). */
function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let current = error as { code?: unknown; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (typeof current.code === 'string') codes.push(current.code);
  }
  return codes;
}

/** No runtime.json with a live process in the data directory, and no KILN_URL. */
export class NoRuntimeError extends Error {
  override readonly name = 'NoRuntimeError';

  constructor(readonly dataDir: string) {
    super(`no Kiln runtime is running for ${dataDir}: start one with \`kiln runtime start\`, or set KILN_URL and KILN_TOKEN`);
  }
}

/** KILN_URL without KILN_TOKEN or the other way round: a setup mistake, not a missing runtime. */
export class RuntimeConfigError extends Error {
  override readonly name = 'RuntimeConfigError';
}

/** The runtime reported the deploy failed; the previous revision, if any, keeps serving. */
export class DeployFailedError extends Error {
  override readonly name = 'DeployFailedError';

  constructor(readonly error: DeployError, readonly step: DeployStep | null) {
    super(error.message);
  }
}

/** The caller cancelled the deploy; `confirmed` when the runtime acknowledged it ended. */
export class DeployCancelledError extends Error {
  override readonly name = 'DeployCancelledError';

  constructor(readonly deployId: string | null, readonly confirmed: boolean) {
    super(confirmed
      ? 'deploy cancelled; the previous revision, if any, keeps serving'
      : 'deploy cancel requested, but the runtime did not confirm it ended: check `kiln list`');
  }
}

/** A URL fit for messages: no user name or password, which some remote setups put in KILN_URL. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.href.replace(/\/$/, '');
  } catch {
    return url;
  }
}
