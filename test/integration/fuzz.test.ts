/**
 * Property-based fuzzing of the runtime's HTTP surface with fast-check, against a real runtime
 * and real workers. The runtime runs with Node's own handling of unhandled rejections (the
 * process exits), so a promise nobody owns ends the run. For random methods, paths, headers,
 * content types and bodies (JSON of every shape, nesting to 100,000 levels, bytes that are
 * not JSON, malformed HTTP), these must hold:
 *
 * - no 5xx but a handler's own error, and every error in fal's {"detail": ...} shape;
 * - every request answered (headers received) within its timeout;
 * - the runtime never exits, reports no fault of its own, and serves afterwards;
 * - the secret an app knows never reaches a response, the logs or the runtime's output.
 *
 * Bounded in runs and in time (each property stops after a minute at most).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { type Answer, bodies, checkMalformedAnswer, exchangeRaw, malformedHttp, SCALE, send, TIME_LIMIT_MS } from '../support/httpFuzz';
import { deployOk, startRuntime, type TestRuntime } from '../support/runtime';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'runtime');
const SECRET = 'fuzz-secret-7f3a9c1e5b';
const APP = 'fuzz-target';
const segments = fc.oneof(
  fc.constantFrom(APP, 'queue', 'v1', 'files', 'apps', 'requests', 'status', 'stream', 'cancel', 'typed', 'any', 'boom', 'leak',
    'fal-proxy', 'logs', 'health', 'metrics', 'runners', 'volumes', 'machine-types', 'deploys', '..', '.', '%2e%2e', '%00', '%ff', '*', ''),
  fc.uuid(),
  fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,16}$/),
);
const paths = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(`/${APP}/typed`, `/${APP}/any`, `/${APP}/boom`, `/${APP}/leak`, `/queue/${APP}/typed`, `/queue/${APP}/any`, '/v1/fal-proxy') },
  { weight: 2, arbitrary: fc.array(segments, { maxLength: 6 }).map((parts) => `/${parts.join('/')}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(`/queue/${APP}/requests/`, `/files/${APP}/`, `/v1/apps/${APP}/`), fc.string({ maxLength: 40 })).map(([head, tail]) => head + encodeURIComponent(tail)) },
).chain((route) => fc.option(fc.stringMatching(/^[a-z=&0-9%.-]{0,24}$/)).map((query) => (query === null ? route : `${route}?${query}`)));

const targetUrls = fc.oneof(
  fc.tuple(fc.constantFrom('https://fal.run', 'https://queue.fal.run', 'http://queue.local', 'https://rest.alpha.fal.ai'), fc.array(segments, { maxLength: 6 }))
    .map(([origin, parts]) => `${origin}/${parts.join('/')}`),
  fc.constantFrom(`https://queue.fal.run/owner/${APP}/typed`, `https://fal.run/owner/${APP}/any`, 'https://fal.run/owner/v1/shutdown', 'not a url', ''),
);

const visible = fc.stringMatching(/^[ -~]{0,40}$/);
const headerSets = (token: string) => fc.record({
  authorization: fc.option(fc.constantFrom(`Bearer ${token}`, `Key ${token}`, `bearer ${token}`, 'Bearer wrong', `Bearer ${token}x`, 'Basic abc', '')),
  'content-type': fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x', 'application/octet-stream', 'application/json; charset=latin1', 'json', '*/*', '')),
  accept: fc.option(fc.constantFrom('text/event-stream', 'application/json', '*/*')),
  'x-fal-target-url': fc.option(targetUrls),
  extra: fc.dictionary(fc.stringMatching(/^x-[a-z0-9-]{1,12}$/), visible, { maxKeys: 3 }),
});

/** Requests that would change what the fuzzing aims at (delete the app, stop the runtime, scale it up, replace its secret). */
const DESTRUCTIVE = /^\/v1\/(shutdown|secrets|apps\/[^/?]*(\/scale)?\/?(\?|$)|deploys)/;

describe('fuzzing the HTTP surface', () => {
  let runtime: TestRuntime;
  const answers: Answer[] = [];

  before(async () => {
    runtime = await startRuntime({ env: { NODE_OPTIONS: '--unhandled-rejections=throw' } });
    await runtime.client.setSecret('FUZZ_TOKEN', SECRET);
    await deployOk(runtime.client, path.join(FIXTURES, 'fuzz_target.py'));
  });
  after(async () => { await runtime.dispose(); });

  /** fal's shape for every error, and no 5xx but the handlers' own. */
  const check = (method: string, target: string, answer: Answer) => {
    answers.push(answer);
    const where = `${method} ${target} -> ${answer.status} ${answer.body.slice(0, 300)}`;
    if (answer.status >= 400 && method !== 'HEAD') {
      const body = JSON.parse(answer.body) as { detail?: unknown };
      assert.ok(body.detail !== undefined, `no detail: ${where}`);
    }
    if (answer.status >= 500) {
      assert.equal(answer.status, 500, where);
      assert.match(answer.body, /boom on purpose|refusing token/, `a 5xx that is not a handler's own error: ${where}`);
    }
  };

  it('answers random requests within their timeout, in fal\'s shape, with no 5xx but the handlers\' own', async () => {
    const token = runtime.info.token;
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), paths, headerSets(token), bodies,
      async (method, target, { extra, ...named }, body) => {
        const headers: Record<string, string> = { ...extra };
        for (const [name, value] of Object.entries(named)) if (value !== null) headers[name] = value;
        if (DESTRUCTIVE.test(target) && headers.authorization?.toLowerCase().includes(token)) headers.authorization = 'Bearer wrong';
        const answer = await send(runtime.info.url, method, target, headers, method === 'GET' || method === 'HEAD' ? undefined : body);
        if (answer !== 'not sent') check(method, target, answer);
      },
    ), { numRuns: 400 * SCALE, interruptAfterTimeLimit: TIME_LIMIT_MS });
  });

  it('answers any JSON body to typed endpoints with a result or a 4xx, synchronously and through the queue', async () => {
    const headers = { authorization: `Bearer ${runtime.info.token}`, 'content-type': 'application/json' };
    await fc.assert(fc.asyncProperty(fc.constantFrom('typed', 'any'), bodies, fc.boolean(), async (endpoint, body, queued) => {
      const target = queued ? `/queue/${APP}/${endpoint}` : `/${APP}/${endpoint}`;
      const answer = await send(runtime.info.url, 'POST', target, headers, body);
      assert.notEqual(answer, 'not sent');
      const sent = answer as Answer;
      check('POST', target, sent);
      assert.ok(sent.status === 200 || (sent.status >= 400 && sent.status < 500), `${target} ${body.slice(0, 80)} -> ${sent.status} ${sent.body.slice(0, 200)}`);
      if (queued && sent.status === 200) {
        const { status_url: statusUrl } = JSON.parse(sent.body) as { status_url: string };
        const status = await send(runtime.info.url, 'GET', new URL(statusUrl).pathname, headers);
        check('GET', statusUrl, status as Answer);
      }
    }), { numRuns: 250 * SCALE, interruptAfterTimeLimit: TIME_LIMIT_MS });
  });

  it('answers malformed HTTP in fal\'s shape, or closes the connection, and never with a 5xx', async () => {
    const url = new URL(runtime.info.url);
    await fc.assert(fc.asyncProperty(malformedHttp, async (text) => {
      checkMalformedAnswer(await exchangeRaw(Number(url.port), url.hostname, text));
    }), { numRuns: 150 * SCALE, interruptAfterTimeLimit: TIME_LIMIT_MS });
  });

  it('is still serving, reported no fault of its own, and never let the secret out', async () => {
    assert.equal(runtime.child.exitCode, null, `the runtime exited:\n${runtime.output()}`);
    assert.doesNotMatch(runtime.output(), /kiln runtime: .* failed:/, 'a fault of the runtime\'s own was reported');
    const typed = await runtime.client.invoke(APP, '/typed', { count: '3', scale: 2 });
    assert.deepEqual([typed.status, (typed.body as { types: string[] }).types], [200, ['int', 'float']]);
    const leak = await runtime.client.invoke(APP, '/leak', {});
    assert.deepEqual([leak.status, leak.body], [500, { detail: 'refusing token [redacted]' }]);
    const logs = await runtime.client.logs(APP, {});
    assert.ok(logs.some((record) => record.text.includes('the token is [redacted]')), 'the app printed its token, redacted');
    const everything = [runtime.output(), JSON.stringify(logs), ...answers.map((answer) => JSON.stringify(answer))].join('\n');
    assert.ok(!everything.includes(SECRET), 'the secret reached a response, the logs or the runtime\'s output');
    assert.ok(answers.length > 300, `only ${answers.length} requests were answered`);
  });
});
