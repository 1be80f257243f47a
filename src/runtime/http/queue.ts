/**
 * fal's queue API: submit now, poll or stream the status, fetch the result later, cancel.
 * Every request is a JSON file written atomically at each change of status, so a runtime killed
 * at any moment takes its queued and running requests back up when it starts again.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { LogRecord, QueueLog, QueueStatus, QueueSubmitResponse } from '../../shared/api';
import type { AppManager } from '../apps';
import { HttpError } from '../apps';
import { reportFault } from '../faults';
import type { LogStore } from '../observability/logs';
import type { InvokeOutcome } from '../runners/pool';
import { writeJsonAtomic } from '../state/atomicFiles';

interface QueuedRequest {
  id: string;
  app: string;
  path: string;
  input: unknown;
  status: 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED';
  submittedAt: string;
  startedAt?: string;
  completedAt?: string;
  runner?: string;
  /** `body` is on disk only once the request completed (see keepBodyOnDisk); `error` is a failure's text. */
  result?: { status: number; body?: unknown; executionMs: number; errorType?: string; error?: string };
}

/** Completed requests are kept this long for their results to be fetched. */
const RETENTION_MS = 24 * 3600 * 1000;
const SWEEP_MS = 10 * 60 * 1000;

export class QueueManager {
  private readonly requests = new Map<string, QueuedRequest>();
  private readonly watchers = new Map<string, Set<(request: QueuedRequest) => void>>();

  constructor(private readonly dir: string, private readonly apps: AppManager, private readonly logs: LogStore, private readonly baseUrl: () => string) {
    mkdirSync(dir, { recursive: true });
    setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  private save(request: QueuedRequest): void {
    // Inputs and results are the users' data: readable by the runtime's user only.
    writeJsonAtomic(this.file(request.id), request, 0o600);
    for (const watcher of this.watchers.get(request.id) ?? []) watcher(request);
  }

  /** Takes back every request the runtime had not finished when it stopped. */
  restore(): void {
    const now = Date.now();
    for (const name of readdirSync(this.dir).filter((file) => file.endsWith('.json'))) {
      let request: QueuedRequest;
      try {
        request = JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as QueuedRequest;
      } catch {
        continue;
      }
      // A file that is JSON but no request of ours (edited, or cut short) is left out, not a failed start.
      if (!request || typeof request.id !== 'string' || typeof request.app !== 'string' || typeof request.path !== 'string') continue;
      if (request.status === 'COMPLETED') {
        if (now - Date.parse(request.completedAt ?? request.submittedAt) > RETENTION_MS) rmSync(path.join(this.dir, name), { force: true });
        else this.requests.set(request.id, keepBodyOnDisk(request));
        continue;
      }
      this.requests.set(request.id, { ...request, status: 'IN_QUEUE' });
      this.start(this.requests.get(request.id)!);
    }
  }

  private urls(app: string, id: string): Omit<QueueSubmitResponse, 'request_id'> {
    const base = `${this.baseUrl()}/queue/${app}/requests/${id}`;
    return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
  }

  submit(app: string, endpointPath: string, input: unknown): QueueSubmitResponse {
    const request: QueuedRequest = { id: randomUUID(), app, path: endpointPath, input, status: 'IN_QUEUE', submittedAt: new Date().toISOString() };
    this.start(request, true);
    this.requests.set(request.id, request);
    return { request_id: request.id, ...this.urls(app, request.id) };
  }

  /** Hands a request to its app; `strict` (a fresh submit) lets 404 and 422 reach the caller. */
  private start(request: QueuedRequest, strict = false): void {
    let invocation: ReturnType<AppManager['invoke']>;
    try {
      invocation = this.apps.invoke(request.app, request.path, request.input, {
        requestId: request.id,
        onStart: (runner) => this.update(request, { status: 'IN_PROGRESS', startedAt: new Date().toISOString(), runner }),
      });
    } catch (error) {
      if (strict || !(error instanceof HttpError)) throw error;
      this.complete(request, { status: error.status, body: { detail: error.detail }, executionMs: 0 });
      return;
    }
    this.save(request);
    invocation.outcome.then((outcome) => this.complete(request, resultOf(outcome))).catch((error: unknown) => {
      // The result could not be stored (a full disk, say): the caller polling for it gets a 500.
      reportFault(`storing the result of queued request ${request.id}`, error);
      const detail = `Internal error: the result could not be stored (${(error as Error).message}).`;
      Object.assign(request, { status: 'COMPLETED', completedAt: new Date().toISOString(), input: null,
        result: { status: 500, body: { detail }, executionMs: 0, error: detail } });
    });
  }

  private update(request: QueuedRequest, changes: Partial<QueuedRequest>): void {
    Object.assign(request, changes);
    this.save(request);
  }

  private complete(request: QueuedRequest, result: QueuedRequest['result']): void {
    // A finished request's input (possibly large) is not needed again: only its result is kept.
    this.update(request, { status: 'COMPLETED', completedAt: new Date().toISOString(), input: null, ...(result ? { result } : {}) });
    keepBodyOnDisk(request);
  }

  /** Forgets completed requests older than the retention, from memory and disk. */
  private sweep(): void {
    const now = Date.now();
    for (const request of [...this.requests.values()]) {
      if (request.status === 'COMPLETED' && now - Date.parse(request.completedAt ?? request.submittedAt) > RETENTION_MS) {
        this.requests.delete(request.id);
        rmSync(this.file(request.id), { force: true });
      }
    }
  }

  private find(app: string, id: string): QueuedRequest {
    const request = this.requests.get(id);
    if (!request || request.app !== app) throw new HttpError(404, `No request ${id} for app "${app}".`);
    return request;
  }

  async status(app: string, id: string, withLogs: boolean): Promise<QueueStatus> {
    const request = this.find(app, id);
    const common = { request_id: id, ...this.urls(app, id) };
    if (request.status === 'IN_QUEUE') {
      const position = [...this.requests.values()]
        .filter((other) => other.app === app && other.status === 'IN_QUEUE' && other.submittedAt < request.submittedAt).length;
      return { status: 'IN_QUEUE', queue_position: position, ...common };
    }
    const logs = withLogs ? await this.logsOf(request) : undefined;
    if (request.status === 'IN_PROGRESS') return { status: 'IN_PROGRESS', ...common, ...(logs ? { logs } : {}) };
    const failed = request.result && request.result.status >= 400;
    return {
      status: 'COMPLETED',
      ...common,
      ...(logs ? { logs } : {}),
      metrics: { inference_time: request.result ? request.result.executionMs / 1000 : null },
      ...(failed ? { error: request.result!.error ?? '' } : {}),
    };
  }

  /** The runner's log lines while it worked on this request. */
  private async logsOf(request: QueuedRequest): Promise<QueueLog[]> {
    if (!request.runner || !request.startedAt) return [];
    const until = request.completedAt ? Date.parse(request.completedAt) : Infinity;
    const records = await this.logs.query(request.app, { runner: request.runner, since: request.startedAt });
    return records.filter((record) => Date.parse(record.time) <= until).map(toQueueLog);
  }

  /** Calls `listener` with each new status until the request completes; returns the unsubscribe. */
  watch(app: string, id: string, listener: () => void): () => void {
    this.find(app, id);
    const set = this.watchers.get(id) ?? new Set();
    set.add(listener);
    this.watchers.set(id, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.watchers.delete(id);
    };
  }

  result(app: string, id: string): { status: number; body: unknown; errorType?: string } {
    const request = this.find(app, id);
    if (request.status !== 'COMPLETED' || !request.result) throw new HttpError(400, 'Request is still in progress');
    const body = 'body' in request.result ? request.result.body : (JSON.parse(readFileSync(this.file(id), 'utf8')) as QueuedRequest).result?.body;
    return { status: request.result.status, body, ...(request.result.errorType ? { errorType: request.result.errorType } : {}) };
  }

  cancel(app: string, id: string): { status: number; body: { status: string } } {
    const request = this.find(app, id);
    if (request.status === 'COMPLETED') return { status: 400, body: { status: 'ALREADY_COMPLETED' } };
    this.apps.cancel(id);
    return { status: 202, body: { status: 'CANCELLATION_REQUESTED' } };
  }

  forgetApp(app: string): void {
    for (const request of [...this.requests.values()].filter((candidate) => candidate.app === app && candidate.status === 'COMPLETED')) {
      this.requests.delete(request.id);
      if (existsSync(this.file(request.id))) rmSync(this.file(request.id), { force: true });
    }
  }
}

function resultOf(outcome: InvokeOutcome): QueuedRequest['result'] {
  const { result } = outcome;
  return result.ok
    ? { status: 200, body: result.output, executionMs: result.executionMs }
    : { status: result.status, body: { detail: result.detail }, executionMs: result.executionMs, error: detailText({ detail: result.detail }), ...(outcome.errorType ? { errorType: outcome.errorType } : {}) };
}

/**
 * A completed request's result body (up to the body limit, kept for a day) stays in its file
 * only, read back when fetched: memory holds what status answers need, however many complete.
 */
function keepBodyOnDisk(request: QueuedRequest): QueuedRequest {
  if (request.result && 'body' in request.result) {
    if (request.result.status >= 400) request.result.error ??= detailText(request.result.body);
    delete request.result.body;
  }
  return request;
}

function detailText(body: unknown): string {
  const detail = (body as { detail?: unknown } | null)?.detail;
  return typeof detail === 'string' ? detail : JSON.stringify(detail ?? body);
}

function toQueueLog(record: LogRecord): QueueLog {
  return { message: record.text, level: record.level.toUpperCase(), source: record.stream === 'system' ? 'kiln' : 'user', timestamp: record.time };
}
