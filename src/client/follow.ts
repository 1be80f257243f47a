/**
 * Streams that outlive the runtime: a log tail or an event watch that, when the runtime stops
 * or restarts, waits for it and carries on. Used by `kiln logs -f` and by the editor's log tail
 * and apps view, so they recover the same way.
 *
 * A restarted runtime has a new token and maybe a new port, so each attempt asks `connect` for
 * a client afresh (reading runtime.json again, for a local runtime). Log records carry a
 * sequence number per app; the tail resumes after the last one it delivered, so a restart
 * neither loses lines nor repeats them.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { LogQuery, LogRecord, RuntimeEventRecord } from '../shared/api';
import type { KilnClient, StreamOptions } from './client';
import { KilnApiError, NoRuntimeError, RuntimeUnreachableError } from './errors';

export type FollowState =
  | { state: 'connecting' }
  | { state: 'open' }
  /** The stream ended or could not open; another attempt follows after `retryInMs`. */
  | { state: 'waiting'; reason: string; retryInMs: number };

export interface FollowOptions {
  /** A client for the runtime as it is now. */
  connect(): Promise<KilnClient>;
  /** Ends the follow; the returned promise then resolves. */
  signal: AbortSignal;
  onState?(state: FollowState): void;
  /** Delays between attempts grow from the first to the last, then stay there. */
  retryDelaysMs?: number[];
  /**
   * Waits for the next attempt instead of the delay, when the caller can watch for what
   * `failure` (the error, or undefined when the stream ended) waits on more cheaply than by
   * asking again: a local runtime's runtime.json being written. Undefined waits the delay.
   */
  waitToRetry?(failure: unknown, signal: AbortSignal): Promise<void> | undefined;
}

const RETRY_DELAYS_MS = [200, 500, 1000, 2000];

/**
 * Whether another attempt may succeed: the runtime is away (not running, not answering, closing
 * down, or restarted with a new token). Anything else, a bad query say, fails the follow.
 */
function isTransient(error: unknown): boolean {
  if (error instanceof RuntimeUnreachableError || error instanceof NoRuntimeError) return true;
  return error instanceof KilnApiError && (error.status === 401 || error.status === 503);
}

/**
 * Opens the stream `open` describes again and again until `signal` aborts. Rejects only with an
 * error that retrying cannot mend.
 */
export async function followAcrossRestarts(open: (client: KilnClient, stream: StreamOptions) => Promise<void>, options: FollowOptions): Promise<void> {
  const { signal } = options;
  const delays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  let failures = 0;
  while (!signal.aborted) {
    options.onState?.({ state: 'connecting' });
    let reason: string;
    let failure: unknown;
    try {
      const client = await options.connect();
      await open(client, {
        signal,
        onOpen: () => {
          failures = 0;
          options.onState?.({ state: 'open' });
        },
      });
      reason = 'the runtime ended the stream';
    } catch (error) {
      if (signal.aborted) break;
      if (!isTransient(error)) throw error;
      reason = (error as Error).message;
      failure = error;
    }
    if (signal.aborted) break;
    const retryInMs = delays[Math.min(failures, delays.length - 1)]!;
    failures++;
    options.onState?.({ state: 'waiting', reason, retryInMs });
    await (options.waitToRetry?.(failure, signal) ?? delay(retryInMs, undefined, { signal }).catch(() => undefined));
  }
}

/**
 * Follows an app's log: the backlog `query` selects, then every new record, across runtime
 * restarts. Each record is delivered once, in order.
 */
export function followLogsAcrossRestarts(app: string, query: Omit<LogQuery, 'follow' | 'after'>, onRecord: (record: LogRecord) => void,
  options: FollowOptions): Promise<void> {
  let lastSeq: number | undefined;
  return followAcrossRestarts((client, stream) => {
    // After the first connection only what came after the last record delivered is wanted.
    const resumed = lastSeq === undefined ? query : { runner: query.runner, search: query.search, after: lastSeq };
    return client.followLogs(app, resumed, (record) => {
      if (lastSeq !== undefined && record.seq <= lastSeq) return;
      lastSeq = record.seq;
      onRecord(record);
    }, stream);
  }, options);
}

/** Follows the runtime's events across restarts; `onOpen` after each (re)connection, to refetch state. */
export function followEventsAcrossRestarts(onEvent: (event: RuntimeEventRecord) => void, options: FollowOptions): Promise<void> {
  return followAcrossRestarts((client, stream) => client.followEvents(onEvent, stream), options);
}
