/**
 * KilnClient against a small real HTTP server that answers as the runtime does: the transport,
 * SSE parsing across chunk boundaries, cancellation, and the error types.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DeployCancelledError, DeployFailedError, KilnApiError, KilnClient, RuntimeUnreachableError } from '../../src/client';
import type { AppDetail, DeployEvent, LogRecord } from '../../src/shared/api';

const TOKEN = 'secret-token-1234';

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

/** Routes by "METHOD /path?query"; every request is recorded with its headers and body. */
class ScriptedRuntime {
  routes = new Map<string, Handler>();
  seen: { method: string; url: string; authorization?: string; accept?: string; body: string }[] = [];
  private server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    request.on('end', () => {
      this.seen.push({ method: request.method!, url: request.url!, authorization: request.headers.authorization, accept: request.headers.accept, body });
      const handler = this.routes.get(`${request.method} ${request.url}`);
      if (handler) handler(request, response, body);
      else json(response, 404, { detail: `Nothing at ${request.method} ${request.url}.` });
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function openEvents(response: ServerResponse): (event: unknown) => void {
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  response.flushHeaders();
  return (event) => response.write(`data: ${JSON.stringify(event)}\n\n`);
}

const app = { name: 'hello', revision: 2, endpoints: [], warnings: [] } as unknown as AppDetail;

describe('KilnClient', () => {
  const runtime = new ScriptedRuntime();
  let client: KilnClient;

  before(async () => {
    client = new KilnClient({ url: `${await runtime.start()}/`, token: TOKEN });
  });
  after(() => runtime.stop());
  beforeEach(() => {
    runtime.routes.clear();
    runtime.seen = [];
  });

  describe('deploy', () => {
    it('streams every event in order, even when an event is split across chunks, and resolves with the app', async () => {
      runtime.routes.set('POST /v1/deploys', (_request, response) => {
        const send = openEvents(response);
        send({ type: 'started', deployId: 'd-1', app: 'hello' });
        const step = `data: ${JSON.stringify({ type: 'step', step: 'environment', message: 'Building the environment' })}\n\n`;
        response.write(step.slice(0, 20));
        setTimeout(() => {
          response.write(step.slice(20));
          send({ type: 'log', step: 'environment', text: 'Collecting requests' });
          send({ type: 'done', app });
          response.end();
        }, 20);
      });
      const events: DeployEvent[] = [];
      const result = await client.deploy({ entry: 'app.py', files: { 'app.py': 'import fal' } }, { onEvent: (event) => events.push(event) });
      assert.deepEqual(result, app);
      assert.deepEqual(events.map((event) => event.type), ['started', 'step', 'log', 'done']);
      assert.deepEqual(runtime.seen[0], {
        method: 'POST', url: '/v1/deploys', authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream',
        body: JSON.stringify({ entry: 'app.py', files: { 'app.py': 'import fal' } }),
      });
    });

    it('throws DeployFailedError with the file, line and step of a failure', async () => {
      runtime.routes.set('POST /v1/deploys', (_request, response) => {
        const send = openEvents(response);
        send({ type: 'started', deployId: 'd-2', app: null });
        send({ type: 'failed', step: 'inspect', error: { message: 'SyntaxError: expected ":"', file: 'app.py', line: 7 } });
        response.end();
      });
      await assert.rejects(client.deploy({ entry: 'app.py', files: {} }), (error: unknown) =>
        error instanceof DeployFailedError && error.step === 'inspect' && error.error.file === 'app.py' && error.error.line === 7);
    });

    it('turns a refusal answered without a stream into KilnApiError or DeployFailedError', async () => {
      runtime.routes.set('POST /v1/deploys', (_request, response) => json(response, 409, { detail: 'hello is already being deployed.' }));
      await assert.rejects(client.deploy({ entry: 'app.py', files: {} }), (error: unknown) =>
        error instanceof KilnApiError && error.status === 409 && error.message === 'hello is already being deployed.');
      runtime.routes.set('POST /v1/deploys', (_request, response) =>
        json(response, 422, { detail: 'bad keep_alive', error: { message: 'bad keep_alive', code: 'invalid-keep-alive', line: 4 } }));
      await assert.rejects(client.deploy({ entry: 'app.py', files: {} }), (error: unknown) =>
        error instanceof DeployFailedError && error.error.code === 'invalid-keep-alive');
    });

    it('cancels through the API when the signal aborts, and waits for the runtime to confirm', async () => {
      let sendEvent: (event: unknown) => void = () => undefined;
      let finish: () => void = () => undefined;
      runtime.routes.set('POST /v1/deploys', (_request, response) => {
        sendEvent = openEvents(response);
        finish = () => response.end();
        sendEvent({ type: 'started', deployId: 'd-3', app: 'hello' });
        sendEvent({ type: 'step', step: 'environment', message: 'Building the environment' });
      });
      runtime.routes.set('POST /v1/deploys/d-3/cancel', (_request, response) => {
        json(response, 202, { detail: 'Cancelling the deploy.' });
        sendEvent({ type: 'failed', step: 'environment', error: { message: 'The deploy was cancelled.' } });
        finish();
      });
      const controller = new AbortController();
      const deploy = client.deploy({ entry: 'app.py', files: {} }, {
        signal: controller.signal,
        onEvent: (event) => { if (event.type === 'step') controller.abort(); },
      });
      await assert.rejects(deploy, (error: unknown) => error instanceof DeployCancelledError && error.confirmed && error.deployId === 'd-3');
      assert.ok(runtime.seen.some((request) => request.url === '/v1/deploys/d-3/cancel'));
    });

    it('reports a connection that breaks mid-deploy as the runtime going away', async () => {
      runtime.routes.set('POST /v1/deploys', (request, response) => {
        openEvents(response)({ type: 'started', deployId: 'd-4', app: 'hello' });
        setTimeout(() => request.socket.destroy(), 20);
      });
      await assert.rejects(client.deploy({ entry: 'app.py', files: {} }), RuntimeUnreachableError);
    });
  });

  describe('logs', () => {
    const record = (seq: number): LogRecord => ({
      seq, time: '2025-01-01T00:00:00.000Z', app: 'hello', revision: 1, runner: 'r-1', stream: 'stdout', level: 'info', text: `line ${seq}`,
    });

    it('asks with the query and returns the records', async () => {
      runtime.routes.set('GET /v1/apps/hello/logs?since=10m&tail=5&search=a+b', (_request, response) => json(response, 200, { records: [record(1)] }));
      assert.deepEqual(await client.logs('hello', { since: '10m', tail: 5, search: 'a b' }), [record(1)]);
    });

    it('follows until the signal aborts, then resolves', async () => {
      runtime.routes.set('GET /v1/apps/hello/logs?runner=r-1&follow=1', (_request, response) => {
        const send = openEvents(response);
        response.write(': keep-alive\n\n');
        send(record(1));
        setTimeout(() => send(record(2)), 20);
      });
      const controller = new AbortController();
      const seen: number[] = [];
      await client.followLogs('hello', { runner: 'r-1' }, (line) => {
        seen.push(line.seq);
        if (seen.length === 2) controller.abort();
      }, { signal: controller.signal });
      assert.deepEqual(seen, [1, 2]);
    });
  });

  describe('invocation', () => {
    it('returns an error status with its body and headers instead of throwing', async () => {
      const detail = [{ loc: ['body', 'text'], msg: 'Field required', type: 'missing' }];
      runtime.routes.set('POST /hello/echo', (_request, response) => json(response, 422, { detail }, { 'x-kiln-runner-id': 'r-9' }));
      const result = await client.invoke('hello', '/echo', {});
      assert.equal(result.status, 422);
      assert.deepEqual(result.body, { detail });
      assert.equal(result.headers['x-kiln-runner-id'], 'r-9');
      assert.ok(result.durationMs >= 0);
    });

    it('calls the root endpoint at /{app}', async () => {
      runtime.routes.set('POST /hello', (_request, response, body) => json(response, 200, { echoed: JSON.parse(body) }));
      assert.deepEqual((await client.invoke('hello', '/', { name: 'x' })).body, { echoed: { name: 'x' } });
    });

    it('treats a cancel that came too late as an answer, not a failure', async () => {
      runtime.routes.set('PUT /queue/hello/requests/q-1/cancel', (_request, response) => json(response, 400, { status: 'ALREADY_COMPLETED' }));
      assert.equal(await client.queueCancel('hello', 'q-1'), 'ALREADY_COMPLETED');
    });
  });

  describe('errors', () => {
    it('carries the status and detail of a refused call', async () => {
      runtime.routes.set('GET /v1/apps/nope', (_request, response) => json(response, 404, { detail: 'No app named nope.' }));
      await assert.rejects(client.getApp('nope'), (error: unknown) =>
        error instanceof KilnApiError && error.status === 404 && error.detail === 'No app named nope.' && error.message === 'No app named nope.');
    });

    it('says what to do about a refused token, without the token', async () => {
      runtime.routes.set('GET /v1/apps', (_request, response) => json(response, 401, { detail: 'Missing or wrong token.' }));
      await assert.rejects(client.listApps(), (error: unknown) =>
        error instanceof KilnApiError && error.status === 401 && /KILN_TOKEN/.test(error.message) && !error.message.includes(TOKEN));
    });

    it('says how to start a runtime when nothing answers, without the token', async () => {
      const closed = new ScriptedRuntime();
      const url = await closed.start();
      await closed.stop();
      const error = await new KilnClient({ url, token: TOKEN }).health().catch((caught: unknown) => caught);
      assert.ok(error instanceof RuntimeUnreachableError);
      assert.equal(error.message, `no Kiln runtime at ${url}: start one with \`kiln runtime start\``);
      assert.ok(!String(error.stack).includes(TOKEN));
    });
  });
});

describe('a runtime that cannot be reached', () => {
  it('tells a refused connection (safe to send again) from one that broke after the request went out', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await new KilnClient({ url: `http://127.0.0.1:${port}`, token: 't' }).health().catch((error: unknown) => error);
    assert.ok(refused instanceof RuntimeUnreachableError && refused.neverSent);

    const hangsUp = createServer((request) => request.socket.destroy());
    await new Promise<void>((resolve) => hangsUp.listen(0, '127.0.0.1', resolve));
    const broken = await new KilnClient({ url: `http://127.0.0.1:${(hangsUp.address() as { port: number }).port}`, token: 't' })
      .invoke('app', '/run', {}).catch((error: unknown) => error);
    await new Promise((resolve) => hangsUp.close(resolve));
    assert.ok(broken instanceof RuntimeUnreachableError && !broken.neverSent);
  });
});
