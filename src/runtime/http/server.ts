/**
 * The runtime's HTTP surface: management under /v1 (token required), invocation in fal's shapes
 * (`POST /{app}/{path}`, the queue API, the proxy header `@fal-ai/client` uses), and the files
 * apps save. Every error answers `{"detail": ...}` without a stack trace.
 */
import { timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { APP_NAME_PATTERN, MACHINE_TYPES, RESERVED_APP_NAMES } from '../../appconfig';
import { type DeployEvent, type DeployRequest, type HealthResponse, INVOKE_HEADERS, type LogQuery, type LogRecord, type ScaleRequest } from '../../shared/api';
import { type AppManager, HttpError } from '../apps';
import type { Deployer } from '../deploys/deploy';
import { reportFault } from '../faults';
import { nestingExceeds, type RuntimeLimits } from '../limits';
import type { EventBus } from '../observability/events';
import type { LogStore } from '../observability/logs';
import type { Metrics } from '../observability/metrics';
import type { InvokeOutcome } from '../runners/pool';
import type { SecretStore } from '../state/secrets';
import type { VolumeStore } from '../state/volumes';
import { keepOpen, openEventStream } from './eventStream';
import { registerMonitoring } from './monitoring';
import type { QueueManager } from './queue';

export interface ServerDeps {
  token: string;
  apps: AppManager;
  deployer: Deployer;
  queue: QueueManager;
  logs: LogStore;
  secrets: SecretStore;
  volumes: VolumeStore;
  metrics: Metrics;
  events: EventBus;
  filesDir: string;
  limits: RuntimeLimits;
  health(): HealthResponse;
  shutdown(): void;
}

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp',
  '.svg': 'image/svg+xml', '.json': 'application/json', '.txt': 'text/plain; charset=utf-8', '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg', '.mp4': 'video/mp4', '.pdf': 'application/pdf', '.csv': 'text/csv; charset=utf-8',
};

function tokenMatches(header: string | undefined, token: Buffer): boolean {
  const match = header ? /^(?:Bearer|Key)\s+(.+)$/i.exec(header.trim()) : null;
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  return given.length === token.length && timingSafeEqual(given, token);
}


/** Where @fal-ai/client sends everything in proxy mode; x-fal-target-url says where it means. */
const PROXY_PATH = '/v1/fal-proxy';
/** Why a proxied request could not be routed, for the proxy route to answer. */
const proxyProblems = new WeakMap<IncomingMessage, string>();

/**
 * The runtime's own route for a proxied request: `https://queue.fal.run/owner/app/requests/ID`
 * becomes `/queue/app/requests/ID`, `https://fal.run/owner/app/path` becomes `/app/path`, so
 * the proxy is answered by the same handlers as direct calls. Runs before routing, for every
 * request, and must not throw.
 */
function proxyRoute(request: IncomingMessage): string {
  const url = request.url ?? '/';
  if (url !== PROXY_PATH && !url.startsWith(`${PROXY_PATH}?`)) return url;
  const header = request.headers['x-fal-target-url'];
  if (typeof header !== 'string') {
    proxyProblems.set(request, 'The proxy needs the x-fal-target-url header, as @fal-ai/client sends it.');
    return url;
  }
  let target: URL;
  try {
    target = new URL(header);
  } catch {
    proxyProblems.set(request, `x-fal-target-url "${header}" is not a URL.`);
    return url;
  }
  // Endpoint ids are owner/app[/path]; a local runtime has no owners, so the first segment goes.
  const [, , app = '', ...rest] = target.pathname.split('/');
  if (!APP_NAME_PATTERN.test(app) || RESERVED_APP_NAMES.includes(app)) {
    proxyProblems.set(request, `x-fal-target-url "${header}" names no app: its path is /owner/app[/endpoint].`);
    return url;
  }
  const local = `/${[app, ...rest].join('/')}${target.search}`;
  return target.hostname.startsWith('queue.') ? `/queue${local}` : local;
}

/** How long a connection refused before routing may take to finish sending before it is closed. */
const CLIENT_ERROR_LINGER_MS = 5_000;

/** HTTP that never reached a route (headers too large, a malformed request line) still gets fal's shape. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket, answering: WeakSet<Socket>): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] = error.code === 'HPE_HEADER_OVERFLOW'
    ? [431, 'The request headers are larger than the runtime accepts (16 KB in all); send large values in the body.']
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request did not arrive in time.']
      : [400, `The request is not valid HTTP (${error.code ?? error.message}).`];
  // Not while a request on this connection is being answered (one answered before the rest of
  // its body came, say): the client would read two answers to one request.
  if (!socket.writable || answering.has(socket)) {
    socket.destroy(error);
    return;
  }
  const body = JSON.stringify({ detail });
  // What the client still sends is read and dropped: closing with it unread would reset the
  // connection, and the client could lose the answer. Then the connection ends, answer first.
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}

const wantsEvents = (request: FastifyRequest) => (request.headers.accept ?? '').includes('text/event-stream');

/** A deploy body as the client builds it: anything else is refused before a deploy begins. */
function checkDeployRequest(body: unknown): DeployRequest {
  const request = body as Partial<DeployRequest> | null;
  const fail = (problem: string) => new HttpError(400, `${problem}. A deploy is a JSON object with "entry" (the app file's path) and "files" (path -> source text).`);
  if (!request || typeof request !== 'object') throw fail('The body is not a JSON object');
  if (typeof request.entry !== 'string' || request.entry === '') throw fail('"entry" is missing');
  if (!request.files || typeof request.files !== 'object' || Array.isArray(request.files)) throw fail('"files" is missing');
  if (!Object.hasOwn(request.files, request.entry)) throw fail(`"files" has no "${request.entry}"`);
  const notText = Object.entries(request.files).find(([, text]) => typeof text !== 'string');
  if (notText) throw fail(`"files"["${notText[0]}"] is not source text`);
  for (const key of ['name', 'className', 'python'] as const) {
    if (request[key] !== undefined && typeof request[key] !== 'string') throw fail(`"${key}" is not a string`);
  }
  if (request.resetScale !== undefined && typeof request.resetScale !== 'boolean') throw fail('"resetScale" is not true or false');
  return request as DeployRequest;
}

export function buildServer(deps: ServerDeps): FastifyInstance {
  const token = Buffer.from(deps.token);
  const { maxBodyBytes, maxJsonDepth } = deps.limits;
  /** Connections whose request is being answered, where a parse error is no request to answer. */
  const answering = new WeakSet<Socket>();
  const server = Fastify({
    bodyLimit: maxBodyBytes,
    logger: false,
    return503OnClosing: true,
    // Closing ends every connection, log followers' streams included, rather than waiting on them.
    forceCloseConnections: true,
    // The proxy of @fal-ai/client is answered by the very routes it names (see proxyRoute).
    rewriteUrl: (request) => proxyRoute(request),
    clientErrorHandler: (error, socket) => answerClientError(error, socket, answering),
    // Node would answer a request without Host with a bare 400 of its own; routed, it gets
    // fal's shape (and a local API has no use for the header).
    http: { requireHostHeader: false },
    // Paths the router cannot read (a bad %-escape, a segment over 100 characters) get fal's shape too.
    frameworkErrors: (error, request, reply) => {
      (reply as FastifyReply).code(error.statusCode ?? 400).send({ detail: `Nothing at ${request.method} ${request.url}: ${error.message}.` });
    },
  });

  // An invocation may come with no body at all (an endpoint without inputs).
  server.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = (body as string).trim();
    if (text === '') {
      done(null, {});
      return;
    }
    // Measured before parsing: nothing downstream (validation, the frame to the worker, the
    // worker's own decoding) has to survive a value nested thousands of levels deep.
    if (nestingExceeds(text, maxJsonDepth)) {
      done(new HttpError(400, `The request body nests arrays and objects more than ${maxJsonDepth} levels deep (the runtime's --max-json-depth); send a flatter value.`), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new HttpError(400, 'The request body is not valid JSON.'), undefined);
    }
  });

  server.addHook('onRequest', async (request) => { answering.add(request.raw.socket); });
  // Answered before its body was all read (a 401 does not wait for it), the rest of that body
  // may still come and fail to parse: that is no new request, and gets no answer of its own.
  server.addHook('onResponse', async (request) => { if (request.raw.complete) answering.delete(request.raw.socket); });

  server.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith('/files/')) return;
    if (!tokenMatches(request.headers.authorization, token)) {
      reply.code(401).header('www-authenticate', 'Bearer').send({ detail: 'Missing or wrong token. Send "Authorization: Bearer <token>"; `kiln runtime status` says where the token is kept.' });
      return reply;
    }
    return undefined;
  });

  // An app name from a URL becomes a file name (logs, revisions): anything else is no app at all.
  server.addHook('preHandler', async (request) => {
    const route = request.routeOptions.url ?? '';
    if (!/^\/(v1\/apps\/:name|queue\/:app|:app)(\/|$)/.test(route)) return;
    const { name, app } = request.params as { name?: string; app?: string };
    const given = name ?? app ?? '';
    if (!APP_NAME_PATTERN.test(given)) throw new HttpError(404, `No app named "${given}": app names are lower-case letters, digits and "-".`);
  });

  server.setErrorHandler((error, _request, reply) => {
    if (error instanceof HttpError) {
      if (error.errorType) reply.header(INVOKE_HEADERS.errorType, error.errorType);
      return reply.code(error.status).send({ detail: error.detail });
    }
    const { statusCode, message, code } = error as { statusCode?: number; message?: string; code?: string };
    const status = statusCode ?? 500;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ detail: `The request body is larger than ${maxBodyBytes / (1024 * 1024)} MB (the runtime's --max-body-mb). Send large files by URL instead.` });
    }
    return reply.code(status).send({ detail: status === 500 ? `Internal error: ${message}` : message });
  });
  server.setNotFoundHandler((request, reply) => reply.code(404).send({ detail: `Nothing at ${request.method} ${request.url}.` }));

  registerManagement(server, deps);
  registerMonitoring(server, deps);
  registerInvocation(server, deps);
  return server;
}

function registerManagement(server: FastifyInstance, deps: ServerDeps): void {
  server.get('/v1/health', async () => deps.health());
  server.get('/v1/machine-types', async () => ({ machineTypes: MACHINE_TYPES }));

  server.post<{ Body: DeployRequest }>('/v1/deploys', async (request, reply) => {
    const body = checkDeployRequest(request.body);
    if (wantsEvents(request)) {
      const send = openEventStream(request, reply);
      await deps.deployer.deploy(body, send);
      reply.raw.end();
      return reply;
    }
    let last: DeployEvent | undefined;
    const status = await deps.deployer.deploy(body, (event) => { last = event; });
    if (last?.type === 'done') return { app: last.app };
    const failure = last?.type === 'failed' ? last.error : { message: 'The deploy ended without a result.' };
    return reply.code(status).send({ detail: failure.message, error: failure });
  });
  server.post<{ Params: { id: string } }>('/v1/deploys/:id/cancel', async (request, reply) => {
    if (!deps.deployer.cancel(request.params.id)) throw new HttpError(404, `No deploy ${request.params.id} is running.`);
    return reply.code(202).send({ detail: 'Cancelling the deploy; the previous revision keeps serving.' });
  });

  server.get('/v1/apps', async () => ({ apps: deps.apps.list() }));
  server.get<{ Params: { name: string } }>('/v1/apps/:name', async (request) => deps.apps.detail(request.params.name));
  server.delete<{ Params: { name: string } }>('/v1/apps/:name', async (request) => {
    await deps.apps.delete(request.params.name);
    deps.queue.forgetApp(request.params.name);
    return { detail: `Deleted ${request.params.name}.` };
  });
  server.post<{ Params: { name: string }; Body: ScaleRequest }>('/v1/apps/:name/scale', async (request) =>
    deps.apps.scale(request.params.name, request.body ?? {}));

  server.get<{ Params: { name: string }; Querystring: Record<string, string | undefined> }>('/v1/apps/:name/logs', async (request, reply) => {
    const { since, tail, runner, search, after, follow } = request.query;
    const query: LogQuery = {
      ...(since ? { since } : {}),
      ...(tail ? { tail: Number(tail) } : {}),
      ...(runner ? { runner } : {}),
      ...(search ? { search } : {}),
      ...(after ? { after: Number(after) } : {}),
    };
    for (const key of ['tail', 'after'] as const) {
      const value = query[key];
      if (value !== undefined && (!Number.isInteger(value) || value < 0)) throw new HttpError(400, `${key} must be a whole number.`);
    }
    const following = follow === '1' || follow === 'true';
    // A follower listens before the backlog is read, so a line written meanwhile is neither lost
    // nor sent twice: it waits here and goes out after the backlog unless the backlog had it.
    const early: LogRecord[] = [];
    let deliver: ((record: LogRecord) => void) | undefined;
    const stop = following ? deps.logs.follow(request.params.name, query, (record) => (deliver ? deliver(record) : early.push(record))) : undefined;
    let records;
    try {
      records = await deps.logs.query(request.params.name, query);
    } catch (error) {
      stop?.();
      throw new HttpError(400, (error as Error).message);
    }
    if (!stop) return { records };
    const send = openEventStream(request, reply);
    records.forEach(send);
    const sentUpTo = records.at(-1)?.seq ?? query.after ?? 0;
    early.filter((record) => record.seq > sentUpTo).forEach(send);
    deliver = send;
    keepOpen(reply, stop);
    return reply;
  });

  server.get('/v1/secrets', async () => ({ secrets: deps.secrets.list() }));
  server.put<{ Params: { name: string }; Body: { value?: unknown } }>('/v1/secrets/:name', async (request) => {
    const value = request.body?.value;
    if (typeof value !== 'string') throw new HttpError(400, 'Send the secret as {"value": "..."}.');
    try {
      return deps.secrets.set(request.params.name, value);
    } catch (error) {
      throw new HttpError(422, (error as Error).message);
    }
  });
  server.delete<{ Params: { name: string } }>('/v1/secrets/:name', async (request) => {
    if (!deps.secrets.unset(request.params.name)) throw new HttpError(404, `No secret named ${request.params.name}.`);
    return { detail: `Removed secret ${request.params.name}.` };
  });

  server.get('/v1/volumes', async () => ({ volumes: deps.volumes.list(deps.apps.volumeUsers()) }));
  server.get('/v1/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  server.post('/v1/shutdown', async (_request, reply) => {
    reply.code(202).send({ detail: 'Stopping the runtime.' });
    setImmediate(() => deps.shutdown());
    return reply;
  });
}

/** Sends an invocation's outcome as fal does: the output, or `{"detail"}` with the error's status. */
function sendOutcome(reply: FastifyReply, requestId: string, revision: number, outcome: InvokeOutcome, deps: ServerDeps, app: string, arrivedAt: number): FastifyReply {
  const { result } = outcome;
  reply.header(INVOKE_HEADERS.requestId, requestId);
  reply.header(INVOKE_HEADERS.revision, String(revision));
  reply.header(INVOKE_HEADERS.queueMs, String(outcome.queueMs));
  reply.header(INVOKE_HEADERS.executionMs, String(result.executionMs));
  if (outcome.runner) reply.header(INVOKE_HEADERS.runner, outcome.runner);
  if (outcome.coldStartMs !== null) reply.header(INVOKE_HEADERS.coldStartMs, String(outcome.coldStartMs));
  if (outcome.errorType) reply.header(INVOKE_HEADERS.errorType, outcome.errorType);
  const status = result.ok ? 200 : result.status;
  deps.metrics.request(app, status, (Date.now() - arrivedAt) / 1000, outcome.queueMs / 1000);
  reply.code(status).header('content-type', 'application/json; charset=utf-8');
  return reply.send(JSON.stringify(result.ok ? result.output ?? null : { detail: result.detail }));
}

function registerInvocation(server: FastifyInstance, deps: ServerDeps): void {
  const invoke = async (app: string, endpointPath: string, request: FastifyRequest, reply: FastifyReply) => {
    const arrivedAt = Date.now();
    const { requestId, revision, outcome } = deps.apps.invoke(app, endpointPath, request.body ?? {});
    // A caller that hangs up before the answer no longer wants it: the runner stops working on it.
    const onClose = () => { if (!reply.raw.writableEnded) deps.apps.cancel(requestId); };
    reply.raw.once('close', onClose);
    const settled = await outcome;
    reply.raw.off('close', onClose);
    return sendOutcome(reply, requestId, revision, settled, deps, app, arrivedAt);
  };
  const endpointOf = (wildcard: string | undefined) => `/${wildcard ?? ''}`.replace(/\/+$/, '') || '/';

  server.post<{ Params: { app: string; '*': string } }>('/:app/*', (request, reply) =>
    invoke(request.params.app, endpointOf(request.params['*']), request, reply));
  server.post<{ Params: { app: string } }>('/:app', (request, reply) => invoke(request.params.app, '/', request, reply));

  server.post<{ Params: { app: string; '*': string } }>('/queue/:app/*', async (request) =>
    deps.queue.submit(request.params.app, endpointOf(request.params['*']), request.body ?? {}));
  server.post<{ Params: { app: string } }>('/queue/:app', async (request) => deps.queue.submit(request.params.app, '/', request.body ?? {}));
  server.get<{ Params: { app: string; id: string }; Querystring: { logs?: string } }>('/queue/:app/requests/:id/status', async (request) =>
    deps.queue.status(request.params.app, request.params.id, request.query.logs === '1' || request.query.logs === 'true'));
  server.get<{ Params: { app: string; id: string }; Querystring: { logs?: string } }>('/queue/:app/requests/:id/status/stream', async (request, reply) => {
    const { app, id } = request.params;
    const withLogs = request.query.logs === '1' || request.query.logs === 'true';
    let send: ((data: unknown) => void) | undefined;
    let last = '';
    let ended = false;
    // Each change re-reads the status; sends only what differs, and ends the stream at COMPLETED.
    const report = async () => {
      const status = await deps.queue.status(app, id, withLogs);
      const text = JSON.stringify(status);
      if (ended || !send || text === last) return;
      last = text;
      send(status);
      if (status.status === 'COMPLETED') {
        ended = true;
        stop();
        reply.raw.end();
      }
    };
    const reportOrEnd = () => report().catch((error: unknown) => {
      reportFault(`streaming the status of request ${id}`, error);
      ended = true;
      stop();
      reply.raw.destroy();
    });
    // Watch first: a change between the first read and the subscription is not missed.
    const stop = deps.queue.watch(app, id, () => void reportOrEnd());
    send = openEventStream(request, reply);
    reply.raw.on('close', () => { ended = true; stop(); });
    await reportOrEnd();
    return reply;
  });
  server.get<{ Params: { app: string; id: string } }>('/queue/:app/requests/:id', async (request, reply) => {
    const result = deps.queue.result(request.params.app, request.params.id);
    reply.header(INVOKE_HEADERS.requestId, request.params.id);
    if (result.errorType) reply.header(INVOKE_HEADERS.errorType, result.errorType);
    return reply.code(result.status).send(result.body);
  });
  server.put<{ Params: { app: string; id: string } }>('/queue/:app/requests/:id/cancel', async (request, reply) => {
    const { status, body } = deps.queue.cancel(request.params.app, request.params.id);
    return reply.code(status).send(body);
  });

  // Proxied requests that name a target reach the routes above (see proxyRoute); the rest are here.
  server.route({
    method: ['GET', 'POST', 'PUT'],
    url: PROXY_PATH,
    handler: async (request) => {
      throw new HttpError(400, proxyProblems.get(request.raw) ?? 'The proxy needs the x-fal-target-url header, as @fal-ai/client sends it.');
    },
  });

  server.get<{ Params: { app: string; file: string } }>('/files/:app/:file', async (request, reply) => {
    const { app, file } = request.params;
    // Unauthenticated, so only a plain file an app saved: no other folder, no link out of it.
    if (!APP_NAME_PATTERN.test(app) || !/^[\w.-]+$/.test(file) || file.startsWith('.')) throw new HttpError(404, 'No such file.');
    const full = path.join(deps.filesDir, app, file);
    // O_NOFOLLOW: a link, even one swapped in at this moment, is never followed. O_NONBLOCK: a
    // FIFO opens at once (a blocking open would wait for a writer, holding a libuv thread) and
    // is then refused as no plain file; for plain files it changes nothing.
    const handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
    if (!handle || !(await handle.stat()).isFile()) {
      await handle?.close();
      throw new HttpError(404, 'No such file.');
    }
    reply.header('content-type', CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
    reply.header('cache-control', 'private, max-age=31536000, immutable');
    return reply.send(handle.createReadStream());
  });
}
