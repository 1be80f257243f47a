/**
 * The container's entrypoint, `python -m kiln_harness.serve`, started as the exported image starts
 * it: the env the manifest sets (from `kiln export`'s plan), the secrets as environment variables,
 * $PORT, the app's folder as the working directory and a folder standing in for the mounted
 * volume. Driven over real HTTP, and with the official @fal-ai/client.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { ApiError, createFalClient, ValidationError } from '@fal-ai/client';
import fc from 'fast-check';
import { exportApp } from '../../src/export';
import { bodies, checkMalformedAnswer, exchangeRaw, malformedHttp, SCALE, send, TIME_LIMIT_MS } from '../support/httpFuzz';
import { EXAMPLES, ROOT, SYSTEM_PYTHON, waitFor } from '../support/runtime';

const HARNESS = path.join(ROOT, 'src', 'runtime', 'python');
const CONTAINER_APP = path.join(ROOT, 'test', 'fixtures', 'serve', 'container_app.py');

interface Served {
  url: string;
  child: ChildProcess;
  data: string;
  output(): string;
  exited: Promise<number | null>;
}

const started: Served[] = [];
const scratch: string[] = [];
afterEach(() => {
  for (const served of started.splice(0)) if (served.child.exitCode === null) served.child.kill('SIGKILL');
});
after(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts serve mode with the env `kiln export` puts in the manifest and the Containerfile. */
async function serve(file: string, options: { secrets?: Record<string, string>; env?: Record<string, string>; python?: string } = {}): Promise<Served> {
  const { plan } = await exportApp(file, undefined, { target: 'knative', image: 'test:1' });
  const data = mkdtempSync(path.join(os.tmpdir(), 'kiln-serve-volume-'));
  scratch.push(data);
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: data,
    PORT: String(port),
    PYTHONPATH: HARNESS,
    KILN_APP_FILE: file,
    KILN_APP_CLASS: plan.className,
    KILN_FILES_DIR: path.join(data, 'files'),
    ...(plan.healthEndpoint ? { KILN_HEALTH_ENDPOINT: plan.healthEndpoint } : {}),
    ...Object.fromEntries(plan.env.map(({ name, value }) => [name, value])),
    KILN_FILES_URL: `http://127.0.0.1:${port}/files`,
    DATA_DIR: data,
    ...options.secrets,
    ...options.env,
  };
  const child = spawn(options.python ?? 'python3', ['-m', 'kiln_harness.serve'], { cwd: path.dirname(file), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const served = { url: `http://127.0.0.1:${port}`, child, data, output: () => output, exited };
  started.push(served);
  await waitFor(`serve mode listening on ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`serve mode exited ${child.exitCode}:\n${output}`);
    return fetch(`${served.url}/health`).then(() => true, () => undefined);
  });
  return served;
}

async function post(served: Served, endpoint: string, body: unknown = {}, headers: Record<string, string> = {}) {
  const response = await fetch(`${served.url}${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() as any };
}

const open = (served: Served, name: string) => writeFileSync(path.join(served.data, name), '');
const exists = (served: Served, name: string) => existsSync(path.join(served.data, name));

async function ready(served: Served): Promise<void> {
  open(served, 'open-setup');
  await waitFor('ready', async () => (await fetch(`${served.url}/health`)).status === 200 || undefined);
}

describe('serve mode: the container entrypoint over HTTP', () => {
  it('answers 503 at /health and to calls while setup() runs, then serves', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k-123456' } });
    const health = await fetch(`${served.url}/health`);
    assert.deepEqual([health.status, await health.json()], [503, { detail: 'setup() is running' }]);
    const early = await post(served, '/greet', { name: 'early' });
    assert.equal(early.status, 503);
    assert.equal(early.headers.get('retry-after'), '1');
    await ready(served);
    const healthy = await fetch(`${served.url}/health`);
    assert.deepEqual(await healthy.json(), { status: 'healthy' }, 'the app\'s own health endpoint answers');
  });

  it('invokes endpoints with env, secrets and the volume from the container\'s environment', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k-123456' } });
    await ready(served);
    const greeting = await post(served, '/greet', { name: 'Kiln', times: 2 }, { 'x-fal-request-id': 'req-42' });
    assert.deepEqual([greeting.status, greeting.body], [200, { message: 'Hello, Kiln! Hello, Kiln!' }]);
    assert.equal(greeting.headers.get('x-fal-request-id'), 'req-42', 'a caller\'s request id is kept');
    const secret = await post(served, '/secret');
    assert.deepEqual(secret.body, { api_key_length: 8 });
    assert.match(secret.headers.get('x-fal-request-id') ?? '', /^[0-9a-f]{32}$/, 'a request id is made when none is given');
    await post(served, '/note', { text: 'kept' });
    assert.equal(readFileSync(path.join(served.data, 'notes.txt'), 'utf8'), 'kept\n');
    const slash = await post(served, '/greet/', { name: 'slash' });
    assert.equal(slash.status, 200, 'a trailing slash names the same endpoint');
  });

  it('answers fal\'s error shapes: 422, 404, 405, an AppException\'s status, 500', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' } });
    await ready(served);
    const missing = await post(served, '/greet', { times: 2, extra: true });
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body, { detail: [
      { loc: ['body', 'name'], msg: 'Field required', type: 'missing' },
      { loc: ['body', 'extra'], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' },
    ] });
    const converted = await post(served, '/greet', { name: 'Lax', times: '2' });
    assert.deepEqual([converted.status, converted.body], [200, { message: 'Hello, Lax! Hello, Lax!' }], 'converted as pydantic\'s lax mode does, as the runtime does');
    const fraction = await post(served, '/greet', { name: 'x', times: 2.5 });
    assert.deepEqual([fraction.status, fraction.body.detail], [422, [{ loc: ['body', 'times'], msg: 'Input should be a valid integer, got a number with a fractional part', type: 'int_from_float' }]]);
    const deep = await post(served, '/greet', `{"name": ${'['.repeat(5000)}${']'.repeat(5000)}}`);
    assert.equal(deep.status, 400);
    assert.match(deep.body.detail, /nests arrays and objects more than 200 levels deep/);
    const notJson = await post(served, '/greet', '{"name": ');
    assert.deepEqual([notJson.status, notJson.body.detail[0].type], [422, 'json_invalid']);
    const notObject = await post(served, '/greet', [1, 2]);
    assert.deepEqual([notObject.status, notObject.body.detail[0].type], [422, 'dict_type']);
    assert.deepEqual(await post(served, '/nowhere').then((reply) => [reply.status, reply.body]), [404, { detail: 'Not Found' }]);
    const get = await fetch(`${served.url}/greet`);
    assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST']);
    assert.deepEqual(await post(served, '/refuse').then((reply) => [reply.status, reply.body]), [402, { detail: 'payment required' }]);
    const crash = await post(served, '/crash');
    assert.deepEqual([crash.status, crash.body], [500, { detail: "'missing'" }]);
    assert.match(served.output(), /Request \S+ to \/crash failed \(500\):\nTraceback[\s\S]*container_app\.py", line \d+, in crash/);
  });

  it('reports the app\'s health endpoint failing as not ready', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' } });
    await ready(served);
    open(served, 'unhealthy');
    const health = await fetch(`${served.url}/health`);
    assert.deepEqual([health.status, await health.json()], [503, { detail: 'model not loaded' }]);
  });

  it('runs at most max_multiplexing requests at once; the rest wait their turn', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' } });
    await ready(served);
    const tags = ['a', 'b', 'c', 'd', 'e', 'f'];
    const replies = tags.map((tag) => post(served, '/hold', { tag }));
    await waitFor('two handlers running', async () => tags.filter((tag) => exists(served, `started-${tag}`)).length === 2 || undefined);
    open(served, 'release');
    const answers = await Promise.all(replies);
    assert.deepEqual(answers.map((answer) => answer.status), tags.map(() => 200));
    assert.deepEqual(answers.map((answer) => answer.body.max_active), tags.map(() => 2), 'KILN_MAX_MULTIPLEXING=2 from max_multiplexing, never more');
  });

  it('refuses with 429 and Retry-After once ten times max_multiplexing requests are waiting', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' }, env: { KILN_MAX_MULTIPLEXING: '1' } });
    await ready(served);
    const first = post(served, '/hold', { tag: 'first' });
    await waitFor('the one slot taken', async () => exists(served, 'started-first') || undefined);
    // Ten may wait for the slot; of thirteen sent at once, three are refused, whichever they are.
    const settled: Awaited<ReturnType<typeof post>>[] = [];
    const replies = Array.from({ length: 13 }, (_, index) => post(served, '/hold', { tag: `w${index}` }).then((reply) => {
      settled.push(reply);
      return reply;
    }));
    await waitFor('three refusals', async () => (settled.length >= 3 ? true : undefined));
    assert.deepEqual(settled.map((reply) => reply.status), [429, 429, 429], 'the refused answer at once; the others wait');
    assert.equal(settled[0]!.headers.get('retry-after'), '1');
    open(served, 'release');
    const statuses = (await Promise.all([first, ...replies])).map((reply) => reply.status);
    assert.deepEqual([statuses.filter((status) => status === 200).length, statuses.filter((status) => status === 429).length], [11, 3]);
  });

  it('reads a chunked body however it trickles in; refuses a chunk size that never ends, and a request line that is not HTTP', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' } });
    await ready(served);
    const port = Number(new URL(served.url).port);
    const body = '{"name": "Chunky"}';
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => { received += chunk.toString('latin1'); });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      const pieces = ['POST /greet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        ...[...body].map((char) => `1\r\n${char}\r\n`), '0\r\n\r\n'];
      // One byte of the body per chunk, each written on its own: a read for every piece.
      void pieces.reduce((sent, piece) => sent.then(() => new Promise<void>((done) => socket.write(piece, 'latin1', () => setImmediate(done)))), Promise.resolve());
    });
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /"message":"Hello, Chunky!"/);
    const endless = await exchangeRaw(port, '127.0.0.1',
      `POST /greet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${'1'.repeat(200_000)}`);
    assert.match(endless, /^HTTP\/1\.1 400 [\s\S]*Malformed chunk size/);
    // A request line that is not HTTP is malformed, not a version to refuse (the fuzzer's find).
    assert.match(await exchangeRaw(port, '127.0.0.1', ' \x00 \x00\r\n\r\n'), /^HTTP\/1\.1 400 [\s\S]*Malformed request line/);
    assert.match(await exchangeRaw(port, '127.0.0.1', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 505 /);
    assert.equal((await post(served, '/greet', { name: 'after' })).status, 200);
  });

  it('serves only plain files at /files/: a FIFO the app made there is refused at once', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' } });
    await ready(served);
    mkdirSync(path.join(served.data, 'files'), { recursive: true });
    execFileSync('mkfifo', [path.join(served.data, 'files', 'trap.png')]);
    assert.equal((await fetch(`${served.url}/files/trap.png`)).status, 404);
    assert.equal((await fetch(`${served.url}/health`)).status, 200, 'nothing waits on the FIFO');
  });

  it('drains on SIGTERM: no new connections, in-flight requests finish, then teardown() runs and it exits 0', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' } });
    await ready(served);
    const inFlight = post(served, '/hold', { tag: 'inflight' });
    await waitFor('the request running', async () => exists(served, 'started-inflight') || undefined);
    served.child.kill('SIGTERM');
    const port = Number(new URL(served.url).port);
    await waitFor('the listening socket closed', () => new Promise<true | undefined>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(undefined); });
      socket.once('error', () => resolve(true));
    }));
    assert.ok(!exists(served, 'teardown'), 'teardown waits for the request in flight');
    open(served, 'release');
    const reply = await inFlight;
    assert.deepEqual([reply.status, reply.body], [200, { tag: 'inflight', max_active: 1 }]);
    assert.equal(await served.exited, 0);
    assert.equal(readFileSync(path.join(served.data, 'teardown'), 'utf8'), 'max_active=1');
  });

  it('answers requests still running when the grace period ends 503, and still tears down', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' }, env: { KILN_GRACE_SECONDS: '0.5' } });
    await ready(served);
    const stuck = post(served, '/hold', { tag: 'stuck' });
    await waitFor('the request running', async () => exists(served, 'started-stuck') || undefined);
    served.child.kill('SIGTERM');
    const reply = await stuck;
    assert.equal(reply.status, 503);
    assert.match(reply.body.detail, /grace period ran out/);
    await waitFor('teardown', async () => exists(served, 'teardown') || undefined);
    open(served, 'release');
    assert.equal(await served.exited, 0);
  });

  it('answers a CUDA out-of-memory error 503, then stops (exit 1) so the container is replaced', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' } });
    await ready(served);
    const reply = await post(served, '/oom');
    assert.deepEqual([reply.status, reply.body], [503, { detail: 'CUDA out of memory. Tried to allocate 2.00 GiB' }]);
    assert.equal(await served.exited, 1);
    assert.ok(exists(served, 'teardown'));
  });

  it('exits 1 with the file and line when setup() fails', async () => {
    const folder = mkdtempSync(path.join(os.tmpdir(), 'kiln-serve-app-'));
    scratch.push(folder);
    const file = path.join(folder, 'broken.py');
    writeFileSync(file, 'import fal\n\nclass Broken(fal.App):\n    def setup(self):\n        raise RuntimeError("weights missing")\n\n    @fal.endpoint("/")\n    def run(self) -> dict:\n        return {}\n');
    const served = await serve(file).catch((error: Error) => error);
    const output = served instanceof Error ? served.message : (await served.exited, served.output());
    assert.match(output, /kiln serve: setup failed: weights missing \(.*broken\.py:5\)/);
  });

  it('is called by the official @fal-ai/client, with the service as its proxy', async () => {
    const served = await serve(CONTAINER_APP, { secrets: { API_KEY: 'k' } });
    await ready(served);
    const fal = createFalClient({ proxyUrl: { url: served.url, when: 'always' }, suppressLocalCredentialsWarning: true });
    const result = await fal.run('my-team/container-app/greet', { input: { name: 'client' } });
    assert.deepEqual(result.data, { message: 'Hello, client!' });
    assert.match(result.requestId, /^[0-9a-f]{32}$/);
    await assert.rejects(fal.run('my-team/container-app/greet', { input: {} }), (error: unknown) =>
      error instanceof ValidationError && error.status === 422 && error.fieldErrors[0]?.loc.join('.') === 'body.name');
    await assert.rejects(fal.subscribe('my-team/container-app/greet', { input: { name: 'queued' } }), (error: unknown) =>
      error instanceof ApiError && error.status === 404 && /queue API .* is not served here/.test((error.body as { detail: string }).detail));
  });

  it('serves an example with its own packages (numpy), and the images it saves', async () => {
    const served = await serve(path.join(EXAMPLES, 'text_to_image.py'), { python: SYSTEM_PYTHON });
    await waitFor('ready', async () => (await fetch(`${served.url}/health`)).status === 200 || undefined);
    const reply = await post(served, '/generate', { prompt: 'a fox', steps: 2 });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.ok(reply.body.image_url.startsWith(`${served.url}/files/`), reply.body.image_url);
    const image = await fetch(reply.body.image_url);
    assert.equal(image.headers.get('content-type'), 'image/png');
    assert.deepEqual([...new Uint8Array(await image.arrayBuffer()).slice(1, 4)], [0x50, 0x4e, 0x47]);
    assert.equal((await fetch(`${served.url}/files/..%2Fetc%2Fpasswd`)).status, 404);
  });
});

describe('serve mode under random input (fast-check)', () => {
  const FUZZ_TARGET = path.join(ROOT, 'test', 'fixtures', 'runtime', 'fuzz_target.py');

  it('answers any body, path, method and content type within its timeout, in fal\'s shape, and malformed HTTP with a 4xx or a close', async () => {
    const served = await serve(FUZZ_TARGET, { secrets: { FUZZ_TOKEN: 'not-a-secret-here' } });
    await waitFor('ready', async () => (await fetch(`${served.url}/health`)).status === 200 || undefined);
    const paths = fc.oneof(fc.constantFrom('/typed', '/any', '/boom', '/typed/', '/health', '/files/x', '/', '//any', '/%2e%2e/any'),
      fc.stringMatching(/^\/[A-Za-z0-9._~%/-]{0,30}$/));
    const contentTypes = fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', 'application/json; charset=latin1', '');
    await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD'), paths, contentTypes, bodies, async (method, target, type, body) => {
      const answer = await send(served.url, method, target, type ? { 'content-type': type } : {}, method === 'GET' || method === 'HEAD' ? undefined : body);
      if (answer === 'not sent') return;
      const where = `${method} ${target} ${body.slice(0, 80)} -> ${answer.status} ${answer.body.slice(0, 200)}`;
      if (answer.status >= 400 && method !== 'HEAD') assert.ok((JSON.parse(answer.body) as { detail?: unknown }).detail !== undefined, where);
      if (answer.status >= 500) assert.match(answer.body, /boom on purpose/, `a 5xx that is not the handler's own: ${where}`);
    }), { numRuns: 300 * SCALE, interruptAfterTimeLimit: TIME_LIMIT_MS });
    const port = Number(new URL(served.url).port);
    await fc.assert(fc.asyncProperty(malformedHttp, async (text) => {
      checkMalformedAnswer(await exchangeRaw(port, '127.0.0.1', text));
    }), { numRuns: 150 * SCALE, interruptAfterTimeLimit: TIME_LIMIT_MS });

    assert.equal(served.child.exitCode, null, `serve mode exited:\n${served.output()}`);
    const typed = await post(served, '/typed', { count: '3', scale: 2 });
    assert.deepEqual([typed.status, typed.body.types], [200, ['int', 'float']], 'still serving, and converting as before');
  });
});
