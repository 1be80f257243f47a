/**
 * Inputs that once hung a runner or stopped the runtime, each against a real runtime with real
 * workers: values nested 100,000 levels deep (sync and queued), a FIFO among an app's files,
 * an int for a float, headers too large, a worker killed inside the sandbox, a full queue, and
 * a request that runs past the runtime's default timeout.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandLine, processTree } from '../support/processes';
import { deployOk, startRuntime, type TestRuntime, waitFor } from '../support/runtime';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'runtime');

/** `levels` arrays inside one another, as text: JSON.stringify itself stops near 5,000. */
const nested = (levels: number) => `${'['.repeat(levels)}0${']'.repeat(levels)}`;

/** The Python worker under a runner's process (bubblewrap's child, or the runner itself). */
function workerPid(runnerPid: number): number {
  const worker = processTree(runnerPid).find((pid) => {
    const command = commandLine(pid);
    return !path.basename(command[0] ?? '').startsWith('bwrap') && command.some((part) => part.endsWith('kiln_worker.py'));
  });
  if (worker === undefined) throw new Error(`no worker process under ${runnerPid}`);
  return worker;
}

describe('hostile input', () => {
  let runtime: TestRuntime;
  const post = (route: string, body: string) => fetch(`${runtime.info.url}${route}`, {
    method: 'POST', body, headers: { authorization: `Bearer ${runtime.info.token}`, 'content-type': 'application/json' }, signal: AbortSignal.timeout(20_000),
  });
  const assertServing = async () => {
    assert.equal(runtime.child.exitCode, null, `the runtime exited:\n${runtime.output()}`);
    const response = await runtime.client.invoke('hostile', '/scale', { x: 1.5 });
    assert.deepEqual([response.status, response.body], [200, { x: 1.5, type: 'float' }]);
  };

  before(async () => {
    runtime = await startRuntime({ args: ['--max-queued', '2', '--request-timeout', '3'] });
    await deployOk(runtime.client, path.join(FIXTURES, 'hostile.py'));
  });
  after(async () => { await runtime.dispose(); });

  it('refuses a value nested 100,000 levels deep in a list, dict or Any field with a 400, and keeps serving', async () => {
    for (const body of [`{"items": [${nested(100_000)}]}`, `{"mapping": {"a": ${nested(100_000)}}}`, `{"value": ${nested(100_000)}}`]) {
      const response = await post('/hostile/echo', body);
      assert.equal(response.status, 400);
      assert.match(((await response.json()) as { detail: string }).detail, /more than 200 levels deep \(the runtime's --max-json-depth\)/);
    }
    const queued = await post('/queue/hostile/echo', `{"value": ${nested(100_000)}}`);
    assert.equal(queued.status, 400);
    await assertServing();
  });

  it('answers a value 1,000 levels deep at once instead of leaving a runner on it', async () => {
    const response = await post('/hostile/echo', `{"value": ${nested(1000)}}`);
    assert.equal(response.status, 400);
    const within = await post('/hostile/echo', `{"value": ${nested(150)}}`);
    assert.deepEqual([within.status, await within.json()], [200, { received: true }]);
    await assertServing();
  });

  it('gives a float parameter a float for an int or numeric text, as pydantic does', async () => {
    for (const x of [2, '2']) {
      const response = await runtime.client.invoke('hostile', '/scale', { x });
      assert.deepEqual([response.status, response.body], [200, { x: 2, type: 'float' }], `x = ${JSON.stringify(x)}`);
    }
    const refused = await runtime.client.invoke('hostile', '/scale', { x: 'two' });
    assert.equal(refused.status, 422);
    assert.deepEqual(refused.body, { detail: [{ loc: ['body', 'x'], msg: 'Input should be a valid number, unable to parse string as a number', type: 'float_parsing' }] });
  });

  it('refuses a FIFO among the files at once, however many ask, and still serves plain files', async () => {
    const made = await runtime.client.invoke('hostile', '/fifo', {});
    const files = (made.body as { files: string }).files;
    // More than libuv's four threads: with blocking opens, every one of them would be stuck.
    const traps = await Promise.all(Array.from({ length: 6 }, () => fetch(`${files}/trap.png`, { signal: AbortSignal.timeout(10_000) })));
    for (const trap of traps) {
      assert.equal(trap.status, 404);
      assert.deepEqual(await trap.json(), { detail: 'No such file.' });
    }
    const plain = await fetch(`${files}/plain.txt`, { signal: AbortSignal.timeout(10_000) });
    assert.deepEqual([plain.status, await plain.text()], [200, 'plain']);
  });

  it("answers headers too large with a 431 in fal's shape", async () => {
    const response = await fetch(`${runtime.info.url}/v1/health`, { headers: { authorization: `Bearer ${runtime.info.token}`, 'x-padding': 'a'.repeat(20_000) } });
    assert.equal(response.status, 431);
    assert.match(((await response.json()) as { detail: string }).detail, /headers are larger than the runtime accepts/);
  });

  it('says a worker killed inside the sandbox was killed, and by which signal', async () => {
    const [runner] = (await runtime.client.getApp('hostile')).runnerDetails;
    const pending = runtime.client.invoke('hostile', '/sleep', { seconds: 30 });
    await waitFor('the request to reach the runner', async () => ((await runtime.client.getApp('hostile')).inFlight === 1 ? true : undefined));
    process.kill(workerPid(runner!.pid!), 'SIGKILL');
    const failed = await pending;
    assert.equal(failed.status, 503);
    assert.match((failed.body as { detail: string }).detail, /The runner handling this request was killed by SIGKILL/);
    await assertServing();
  });

  it('answers 429 with fal\'s error type when an app already has --max-queued requests waiting', async () => {
    const submitted = [];
    for (let index = 0; index < 3; index++) submitted.push(await post('/queue/hostile/sleep', '{"seconds": 1}'));
    assert.deepEqual(submitted.map((response) => response.status), [200, 200, 200]);
    for (const response of [await post('/queue/hostile/sleep', '{}'), await post('/hostile/sleep', '{}')]) {
      assert.equal(response.status, 429);
      assert.equal(response.headers.get('x-fal-error-type'), 'queue_full');
      assert.match(((await response.json()) as { detail: string }).detail, /already has 2 requests waiting for a runner/);
    }
    await waitFor('the queue to drain', async () => ((await runtime.client.getApp('hostile')).queued === 0 ? true : undefined));
  });

  it('ends a request of an app without request_timeout at the runtime\'s default, with a 504', async () => {
    const response = await runtime.client.invoke('hostile', '/sleep', { seconds: 30 });
    assert.equal(response.status, 504);
    assert.equal(response.headers['x-fal-error-type'], 'request_timeout');
    assert.match((response.body as { detail: string }).detail, /longer than 3 s, the runtime's timeout for apps that set no request_timeout/);
    await assertServing();
  });
});
