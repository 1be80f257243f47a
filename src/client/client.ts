/**
 * The one typed client of the runtime's HTTP API (src/shared/api.ts), used by the extension, the
 * CLI and the tests. It runs on Node's global fetch, so it works in VS Code's extension host too.
 *
 * Management calls throw KilnApiError on an error status; invocations and queue results return
 * the status instead, because there an error is an answer the caller shows.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { MachineType } from '../appconfig/catalog';
import type {
  AppDetail,
  AppSummary,
  DeployEvent,
  DeployRequest,
  DeployStep,
  HealthResponse,
  LogQuery,
  LogRecord,
  QueueStatus,
  QueueSubmitResponse,
  RuntimeEventRecord,
  ScaleRequest,
  SecretInfo,
  UsageResponse,
  VolumeInfo,
} from '../shared/api';
import { DeployCancelledError, DeployFailedError, KilnApiError, RuntimeUnreachableError } from './errors';
import { readJsonEvents } from './eventStream';

export interface KilnClientOptions {
  /** The runtime's base URL, e.g. http://127.0.0.1:8411. */
  url: string;
  token: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called once the runtime has answered and the stream is open. */
  onOpen?: () => void;
}

export interface DeployOptions extends CallOptions {
  /** Every event of the deploy, in order, including the final `done` or `failed`. */
  onEvent?: (event: DeployEvent) => void;
}


/** An endpoint's answer as it came: success or fal's error shapes alike. */
export interface InvokeResult {
  status: number;
  /** Response headers, names in lower case; see INVOKE_HEADERS for the ones the runtime adds. */
  headers: Record<string, string>;
  /** The JSON body, the text when it is not JSON, or null when empty. */
  body: unknown;
  durationMs: number;
}

export type QueueCancelStatus = 'CANCELLATION_REQUESTED' | 'ALREADY_COMPLETED';

/** How often a queued request's status is read when its stream ended before it completed. */
const QUEUE_POLL_MS = 250;

/** How long a cancelled deploy may take to report that it stopped before we stop waiting. */
const CANCEL_CONFIRM_MS = 15_000;

interface SendOptions extends CallOptions {
  body?: unknown;
  accept?: string;
}

type DeployEnd = Extract<DeployEvent, { type: 'done' | 'failed' }>;

export class KilnClient {
  readonly url: string;
  private readonly token: string;

  constructor({ url, token }: KilnClientOptions) {
    this.url = url.replace(/\/+$/, '');
    this.token = token;
  }

  // ---- service ------------------------------------------------------------------------------

  health(options?: CallOptions): Promise<HealthResponse> {
    return this.json('GET', '/v1/health', options);
  }

  async machineTypes(options?: CallOptions): Promise<MachineType[]> {
    return (await this.json<{ machineTypes: MachineType[] }>('GET', '/v1/machine-types', options)).machineTypes;
  }

  async metrics(options?: CallOptions): Promise<string> {
    const response = await this.checked('GET', '/v1/metrics', { ...options, accept: 'text/plain' });
    return response.text();
  }

  /** Asks the runtime to exit; it answers first, then stops its runners and exits. */
  async shutdown(options?: CallOptions): Promise<void> {
    await this.json('POST', '/v1/shutdown', options);
  }

  // ---- deploys ------------------------------------------------------------------------------

  /**
   * Deploys and resolves with the live app, streaming progress to `onEvent`. Throws
   * DeployFailedError when the runtime reports a failure. Aborting `signal` cancels the deploy
   * through the API and waits for the runtime to confirm, then throws DeployCancelledError
   * (unless the deploy finished first, which resolves as usual).
   */
  async deploy(request: DeployRequest, options: DeployOptions = {}): Promise<AppDetail> {
    const { onEvent, signal } = options;
    if (signal?.aborted) throw new DeployCancelledError(null, true);
    // Our own controller: after a cancel we keep reading until the runtime says the deploy ended.
    const connection = new AbortController();
    let deployId: string | null = null;
    let end: DeployEnd | undefined;
    let cancelling = false;
    let giveUp: NodeJS.Timeout | undefined;
    const requestCancel = () => {
      if (deployId) this.cancelDeploy(deployId).catch(() => connection.abort());
    };
    const onAbort = () => {
      cancelling = true;
      requestCancel();
      giveUp = setTimeout(() => connection.abort(), CANCEL_CONFIRM_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.send('POST', '/v1/deploys', { body: request, accept: 'text/event-stream', signal: connection.signal });
      if (!isEventStream(response)) return await this.deployAnsweredOnce(response);
      await readJsonEvents<DeployEvent>(response.body!, (event) => {
        if (event.type === 'started') {
          deployId = event.deployId;
          if (cancelling) requestCancel();
        }
        if (event.type === 'done' || event.type === 'failed') end = event;
        onEvent?.(event);
      });
    } catch (error) {
      if (cancelling) throw new DeployCancelledError(deployId, false);
      throw brokenStream(error, this.url);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(giveUp);
    }
    if (end?.type === 'done') return end.app;
    if (cancelling) throw new DeployCancelledError(deployId, end !== undefined);
    if (end?.type === 'failed') throw new DeployFailedError(end.error, end.step);
    throw new Error('the runtime ended the deploy stream before the deploy finished: check `kiln list` and the runtime log');
  }

  /** The runtime answered without a stream: a refusal before the deploy began (409, 400, 401). */
  private async deployAnsweredOnce(response: Response): Promise<AppDetail> {
    const body = await readBody(response);
    if (response.ok) return (body as { app: AppDetail }).app;
    if (body && typeof body === 'object' && 'error' in body) {
      const { error, step } = body as { error: DeployFailedError['error']; step?: DeployStep };
      throw new DeployFailedError(error, step ?? null);
    }
    throw apiError(response, body, 'POST', '/v1/deploys');
  }

  async cancelDeploy(deployId: string, options?: CallOptions): Promise<string> {
    return detailOf(await this.json('POST', `/v1/deploys/${segment(deployId)}/cancel`, options));
  }

  // ---- apps ---------------------------------------------------------------------------------

  async listApps(options?: CallOptions): Promise<AppSummary[]> {
    return (await this.json<{ apps: AppSummary[] }>('GET', '/v1/apps', options)).apps;
  }

  getApp(name: string, options?: CallOptions): Promise<AppDetail> {
    return this.json('GET', `/v1/apps/${segment(name)}`, options);
  }

  async deleteApp(name: string, options?: CallOptions): Promise<string> {
    return detailOf(await this.json('DELETE', `/v1/apps/${segment(name)}`, options));
  }

  scale(name: string, change: ScaleRequest, options?: CallOptions): Promise<AppDetail> {
    return this.json('POST', `/v1/apps/${segment(name)}/scale`, { ...options, body: change });
  }

  // ---- logs ---------------------------------------------------------------------------------

  async logs(name: string, query: Omit<LogQuery, 'follow'> = {}, options?: CallOptions): Promise<LogRecord[]> {
    return (await this.json<{ records: LogRecord[] }>('GET', `/v1/apps/${segment(name)}/logs${queryString(query)}`, options)).records;
  }

  /**
   * Streams the app's log records (the backlog the query selects, then new ones) until the
   * runtime ends the stream or `signal` aborts; both resolve.
   */
  async followLogs(name: string, query: Omit<LogQuery, 'follow'>, onRecord: (record: LogRecord) => void, options: StreamOptions = {}): Promise<void> {
    const path = `/v1/apps/${segment(name)}/logs${queryString({ ...query, follow: true })}`;
    await this.stream(path, onRecord, options);
  }

  // ---- events and usage ---------------------------------------------------------------------

  /** Streams what happens on the runtime until it ends the stream or `signal` aborts; both resolve. */
  async followEvents(onEvent: (event: RuntimeEventRecord) => void, options: StreamOptions = {}): Promise<void> {
    await this.stream('/v1/events', onEvent, options);
  }

  /** Requests, latency, runners and cost per app and minute since `since` (ISO, or "1h", "24h"). */
  usage(since: string, options?: CallOptions): Promise<UsageResponse> {
    return this.json('GET', `/v1/usage?since=${encodeURIComponent(since)}`, options);
  }

  // ---- invocation ---------------------------------------------------------------------------

  /** Calls an endpoint synchronously; never throws on an error status (see InvokeResult). */
  invoke(app: string, path: string, input: unknown = {}, options?: CallOptions): Promise<InvokeResult> {
    return this.exchange('POST', `/${segment(app)}${endpointPath(path)}`, input, options);
  }

  queueSubmit(app: string, path: string, input: unknown = {}, options?: CallOptions): Promise<QueueSubmitResponse> {
    return this.json('POST', `/queue/${segment(app)}${endpointPath(path)}`, { ...options, body: input });
  }

  queueStatus(app: string, requestId: string, { logs = false, ...options }: CallOptions & { logs?: boolean } = {}): Promise<QueueStatus> {
    return this.json('GET', `${requestPath(app, requestId)}/status${logs ? '?logs=1' : ''}`, options);
  }

  /**
   * Streams a queued request's status until it completes; resolves with the last status seen
   * (COMPLETED unless the stream ended early or `signal` aborted).
   */
  async followQueueStatus(app: string, requestId: string, onStatus: (status: QueueStatus) => void, { signal, logs = false }: CallOptions & { logs?: boolean } = {}): Promise<QueueStatus | undefined> {
    let last: QueueStatus | undefined;
    await this.stream<QueueStatus>(`${requestPath(app, requestId)}/status/stream${logs ? '?logs=1' : ''}`, (status) => {
      last = status;
      onStatus(status);
    }, { signal });
    return last;
  }

  /**
   * Follows a queued request to COMPLETED: the status stream, then polling should the stream
   * end early (a proxy cutting long streams). False when `signal` aborted first.
   */
  async waitForQueued(app: string, requestId: string, onStatus: (status: QueueStatus) => void,
    { signal, logs = false }: CallOptions & { logs?: boolean } = {}): Promise<boolean> {
    let last = await this.followQueueStatus(app, requestId, onStatus, { signal, logs });
    while (!signal?.aborted && last?.status !== 'COMPLETED') {
      // A cancel ends the wait at once, not at the next poll.
      await delay(QUEUE_POLL_MS, undefined, { signal }).catch(() => undefined);
      if (signal?.aborted) break;
      last = await this.queueStatus(app, requestId, { signal, logs }).catch((error: unknown) => {
        if (signal?.aborted) return last;
        throw error;
      });
      if (last) onStatus(last);
    }
    return !signal?.aborted;
  }

  /** A completed request's output, or its error with the status it failed with. */
  queueResult(app: string, requestId: string, options?: CallOptions): Promise<InvokeResult> {
    return this.exchange('GET', requestPath(app, requestId), undefined, options);
  }

  async queueCancel(app: string, requestId: string, options?: CallOptions): Promise<QueueCancelStatus> {
    const path = `${requestPath(app, requestId)}/cancel`;
    const response = await this.send('PUT', path, options);
    const body = await readBody(response);
    // 400 ALREADY_COMPLETED is an answer, not a failure: the request simply finished first.
    if (response.ok || (response.status === 400 && statusOf(body) === 'ALREADY_COMPLETED')) return statusOf(body) as QueueCancelStatus;
    throw apiError(response, body, 'PUT', path);
  }

  // ---- secrets and volumes ------------------------------------------------------------------

  async listSecrets(options?: CallOptions): Promise<SecretInfo[]> {
    return (await this.json<{ secrets: SecretInfo[] }>('GET', '/v1/secrets', options)).secrets;
  }

  setSecret(name: string, value: string, options?: CallOptions): Promise<SecretInfo> {
    return this.json('PUT', `/v1/secrets/${segment(name)}`, { ...options, body: { value } });
  }

  async unsetSecret(name: string, options?: CallOptions): Promise<string> {
    return detailOf(await this.json('DELETE', `/v1/secrets/${segment(name)}`, options));
  }

  async volumes(options?: CallOptions): Promise<VolumeInfo[]> {
    return (await this.json<{ volumes: VolumeInfo[] }>('GET', '/v1/volumes', options)).volumes;
  }

  // ---- transport ----------------------------------------------------------------------------

  private async send(method: string, path: string, { body, accept = 'application/json', signal }: SendOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept };
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new RuntimeUnreachableError(this.url, { cause: error });
    }
  }

  private async checked(method: string, path: string, options?: SendOptions): Promise<Response> {
    const response = await this.send(method, path, options);
    if (!response.ok) throw apiError(response, await readBody(response), method, path);
    return response;
  }

  private async json<T>(method: string, path: string, options?: SendOptions): Promise<T> {
    return (await readBody(await this.checked(method, path, options))) as T;
  }

  private async exchange(method: string, path: string, body: unknown, options?: CallOptions): Promise<InvokeResult> {
    const started = performance.now();
    const response = await this.send(method, path, { ...options, body });
    const parsed = await readBody(response);
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: parsed,
      durationMs: performance.now() - started,
    };
  }

  /** Reads an SSE route to its end; an abort of `signal` ends it quietly. */
  private async stream<T>(path: string, onEvent: (event: T) => void, { signal, onOpen }: StreamOptions = {}): Promise<void> {
    try {
      const response = await this.checked('GET', path, { accept: 'text/event-stream', signal });
      onOpen?.();
      await readJsonEvents<T>(response.body!, onEvent);
    } catch (error) {
      if (signal?.aborted) return;
      throw brokenStream(error, this.url);
    }
  }
}

/** fetch reports a connection that broke while a body streamed as a TypeError ("terminated"). */
function brokenStream(error: unknown, url: string): unknown {
  return error instanceof TypeError ? new RuntimeUnreachableError(url, { cause: error }) : error;
}

function isEventStream(response: Response): boolean {
  return response.headers.get('content-type')?.startsWith('text/event-stream') ?? false;
}

/** JSON when the body parses as JSON, else its text; null when empty. */
async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function apiError(response: Response, body: unknown, method: string, path: string): KilnApiError {
  const detail = body && typeof body === 'object' && 'detail' in body ? (body as { detail: unknown }).detail : body;
  return new KilnApiError(response.status, detail, method, path);
}

function detailOf(body: unknown): string {
  return body && typeof body === 'object' && 'detail' in body ? String((body as { detail: unknown }).detail) : '';
}

function statusOf(body: unknown): string | undefined {
  return body && typeof body === 'object' && 'status' in body ? String((body as { status: unknown }).status) : undefined;
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

/** An endpoint path as it follows the app in a URL: "/" -> "", "/v1/gen" -> "/v1/gen". */
function endpointPath(path: string): string {
  const parts = path.split('/').filter(Boolean).map(segment);
  return parts.length ? `/${parts.join('/')}` : '';
}

function requestPath(app: string, requestId: string): string {
  return `/queue/${segment(app)}/requests/${segment(requestId)}`;
}

function queryString(query: LogQuery): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === false) continue;
    params.set(key, value === true ? '1' : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
