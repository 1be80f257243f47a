/**
 * The runtime end to end: real `node dist/runtime.js`, real Python workers, real HTTP.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KilnApiError, KilnClient } from '../../src/client';
import type { LogRecord } from '../../src/shared/api';
import {
  deployFile, deployOk, EXAMPLES, processAlive, startRuntime, SYSTEM_PYTHON, type TestRuntime, waitFor,
} from '../support/runtime';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'runtime');

describe('deploy, invoke, logs, redeploy, delete', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('deploys through every step and serves the app', async () => {
    const result = await deployFile(runtime.client, path.join(EXAMPLES, 'hello.py'));
    assert.ok(result.app, JSON.stringify(result.failure));
    const steps = result.events.filter((event) => event.type === 'step').map((event) => event.type === 'step' && event.step);
    assert.deepEqual([...new Set(steps)], ['validate', 'environment', 'inspect', 'starting-runner', 'setup', 'live']);
    assert.equal(result.app.name, 'hello');
    assert.equal(result.app.state, 'live');
    assert.equal(result.app.revision, 1);
    assert.deepEqual(result.app.endpoints.map((endpoint) => [endpoint.path, endpoint.url]), [['/greet', `${runtime.info.url}/hello/greet`]]);
    assert.deepEqual(result.app.endpoints[0]!.inputSchema.properties, { name: { type: 'string', default: 'world' } });
    assert.equal(result.app.runnerDetails.length, 1, 'the runner that passed setup keeps serving');
    assert.equal(result.app.runnerDetails[0]!.state, 'idle');
  });

  it('answers an invocation with the output and fal-style headers', async () => {
    const response = await runtime.client.invoke('hello', '/greet', { name: 'Ada' });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { message: 'Hello, Ada!' });
    assert.match(response.headers['x-fal-request-id']!, /^[0-9a-f-]{36}$/);
    assert.match(response.headers['x-kiln-runner-id']!, /^hello-r1-[0-9a-f]{6}$/);
    assert.match(response.headers['x-kiln-queue-ms']!, /^\d+$/);
    assert.match(response.headers['x-kiln-execution-ms']!, /^\d+(\.\d+)?$/);
  });

  it('rejects input that does not match the endpoint\'s type hints with fal\'s 422', async () => {
    const response = await runtime.client.invoke('hello', '/greet', { name: 42 });
    assert.equal(response.status, 422);
    assert.deepEqual(response.body, { detail: [{ loc: ['body', 'name'], msg: 'Input should be a valid string', type: 'string_type' }] });
  });

  it('answers 404 for an unknown path or app, naming what exists', async () => {
    const path404 = await runtime.client.invoke('hello', '/nope', {});
    assert.equal(path404.status, 404);
    assert.match(JSON.stringify(path404.body), /has no endpoint \/nope\. Its endpoints: \/greet/);
    const app404 = await runtime.client.invoke('nobody', '/greet', {});
    assert.equal(app404.status, 404);
    assert.match(JSON.stringify(app404.body), /No app named \\"nobody\\"/);
  });

  it('keeps every line a runner prints as a log record, with filters', async () => {
    await runtime.client.invoke('hello', '/greet', { name: 'Grace' });
    const records = await waitFor('the print to reach the logs', async () => {
      const found = await runtime.client.logs('hello', { search: 'greeting grace' });
      return found.length ? found : undefined;
    });
    const [record] = records as [LogRecord];
    assert.equal(record.text, 'greeting Grace');
    assert.equal(record.stream, 'stdout');
    assert.equal(record.app, 'hello');
    assert.equal(record.revision, 1);
    assert.match(record.runner!, /^hello-r1-/);
    const all = await runtime.client.logs('hello', {});
    assert.ok(all.some((line) => line.text === 'Hello app is ready'), 'setup output is kept');
    assert.deepEqual(await runtime.client.logs('hello', { runner: 'hello-r9-000000' }), []);
    const lastTwo = await runtime.client.logs('hello', { tail: 2 });
    assert.equal(lastTwo.length, 2);
    assert.deepEqual(await runtime.client.logs('hello', { after: lastTwo[0]!.seq }), [lastTwo[1]], 'a follower resumes after the last seq it saw');
  });

  it('streams new log lines to a follower', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const following = runtime.client.followLogs('hello', { tail: 0 }, (record) => seen.push(record.text), { signal: controller.signal }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await runtime.client.invoke('hello', '/greet', { name: 'Follower' });
    await waitFor('the followed line', () => (seen.includes('greeting Follower') ? true : undefined));
    controller.abort();
    await following;
  });

  it('redeploys as a new revision and drains the old one', async () => {
    const before = await runtime.client.getApp('hello');
    const oldRunner = before.runnerDetails[0]!;
    const app = await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
    assert.equal(app.revision, 2);
    const response = await runtime.client.invoke('hello', '/greet', {});
    assert.equal(response.headers['x-kiln-revision'], '2');
    assert.match(response.headers['x-kiln-runner-id']!, /^hello-r2-/);
    await waitFor('the old runner to stop', () => (processAlive(oldRunner.pid!) ? undefined : true));
  });

  it('deletes an app: its runners stop, its revisions and logs go, and it no longer answers', async () => {
    const app = await runtime.client.getApp('hello');
    const pids = app.runnerDetails.map((runner) => runner.pid!);
    await runtime.client.deleteApp('hello');
    assert.ok(pids.every((pid) => !processAlive(pid)), 'runner processes are gone');
    assert.equal(existsSync(path.join(runtime.dataDir, 'apps', 'hello')), false);
    assert.deepEqual(await runtime.client.logs('hello', {}), []);
    assert.deepEqual(await runtime.client.listApps(), []);
    assert.equal((await runtime.client.invoke('hello', '/greet', {})).status, 404);
    await assert.rejects(runtime.client.getApp('hello'), (error: KilnApiError) => error.status === 404);
  });
});

describe('a failed deploy says what and where, and the old revision keeps serving', () => {
  let runtime: TestRuntime;
  const deployBroken = async (fixture: string) => {
    const result = await deployFile(runtime.client, path.join(FIXTURES, fixture), { name: 'steady' });
    assert.ok(result.failure, `${fixture} should fail to deploy`);
    return result.failure;
  };

  before(async () => {
    runtime = await startRuntime();
    await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'), { name: 'steady' });
  });
  after(async () => { await runtime.dispose(); });

  const stillServing = async () => {
    const response = await runtime.client.invoke('steady', '/greet', { name: 'still' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-kiln-revision'], '1');
  };

  it('reports a syntax error with file and line', async () => {
    const failure = await deployBroken('broken_syntax.py');
    assert.equal(failure.step, 'inspect');
    assert.equal(failure.error.file, 'broken_syntax.py');
    assert.equal(failure.error.line, 9);
    assert.match(failure.error.message, /SyntaxError|was never closed/);
    await stillServing();
  });

  it('reports an import error with file and line', async () => {
    const failure = await deployBroken('broken_import.py');
    assert.equal(failure.step, 'inspect');
    assert.deepEqual([failure.error.file, failure.error.line], ['broken_import.py', 2]);
    assert.match(failure.error.message, /No module named 'kiln_no_such_module'/);
    await stillServing();
  });

  it('reports an exception in setup at the line that raised it, with the traceback in the logs', async () => {
    const failure = await deployBroken('broken_setup.py');
    assert.equal(failure.step, 'setup');
    assert.deepEqual([failure.error.file, failure.error.line], ['broken_setup.py', 11]);
    assert.match(failure.error.message, /setup\(\) failed: RuntimeError: weights file \/models\/x\.bin is missing/);
    const logs = await runtime.client.logs('steady', { search: 'Traceback' });
    assert.ok(logs.length > 0, 'the traceback is in the logs');
    await stillServing();
  });

  it('reports a configuration problem with its code and line before installing anything', async () => {
    const failure = await deployBroken('broken_config.py');
    assert.equal(failure.step, 'validate');
    assert.equal(failure.error.code, 'unknown-machine-type');
    assert.deepEqual([failure.error.file, failure.error.line], ['broken_config.py', 5]);
    assert.match(failure.error.message, /Did you mean "GPU-A100"\?/);
    await stillServing();
  });

  it('fails when the health check does not pass', async () => {
    const failure = await deployBroken('unhealthy.py');
    assert.equal(failure.step, 'health');
    assert.match(failure.error.message, /answered 503: model not loaded/);
    await stillServing();
  });

  it('keeps the app on revision 1 through all of it', async () => {
    const app = await runtime.client.getApp('steady');
    assert.equal(app.revision, 1);
    assert.equal(app.state, 'live');
  });
});

describe('errors from the app in fal\'s shapes', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startRuntime();
    await deployOk(runtime.client, path.join(EXAMPLES, 'robust_model.py'));
  });
  after(async () => { await runtime.dispose(); });

  it('runs the spec\'s try/except pattern', async () => {
    assert.deepEqual((await runtime.client.invoke('robust-model', '/generate', { prompt: 'abc' })).body, { success: true, result: 'cba' });
    assert.deepEqual((await runtime.client.invoke('robust-model', '/generate', { prompt: 'oom' })).body, { success: false, error: 'GPU OOM - reduce input size' });
  });

  it('keeps an AppException\'s status, gives a FieldException as 422 and anything else as 500', async () => {
    const forbidden = await runtime.client.invoke('robust-model', '/strict', { prompt: 'forbidden' });
    assert.deepEqual([forbidden.status, forbidden.body], [403, { detail: 'this prompt is not allowed' }]);
    const blank = await runtime.client.invoke('robust-model', '/strict', { prompt: ' ' });
    assert.equal(blank.status, 422);
    assert.deepEqual(blank.body, { detail: [{ loc: ['body', 'prompt'], msg: 'prompt must not be blank', type: 'value_error' }] });
    const crash = await runtime.client.invoke('robust-model', '/strict', { prompt: 'crash' });
    assert.deepEqual([crash.status, crash.body], [500, { detail: 'the model cannot draw that' }]);
  });

  it('replaces a runner after a CUDA out-of-memory error with a 503', async () => {
    const first = await runtime.client.invoke('robust-model', '/strict', { prompt: 'oom' });
    assert.equal(first.status, 503);
    assert.match(JSON.stringify(first.body), /CUDA out of memory/);
    const next = await runtime.client.invoke('robust-model', '/strict', { prompt: 'ok' });
    assert.equal(next.status, 200);
    assert.notEqual(next.headers['x-kiln-runner-id'], first.headers['x-kiln-runner-id']);
  });
});

describe('crashes', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startRuntime();
    await deployOk(runtime.client, path.join(FIXTURES, 'slow.py'));
  });
  after(async () => { await runtime.dispose(); });

  it('gives a request whose worker is killed a clear 503, and the next request a new runner', async () => {
    const [runner] = (await runtime.client.getApp('slow')).runnerDetails;
    const pending = runtime.client.invoke('slow', '/sleep', { seconds: 30 });
    await waitFor('the request to reach the runner', async () => ((await runtime.client.getApp('slow')).inFlight === 1 ? true : undefined));
    process.kill(runner!.pid!, 'SIGKILL');
    const failed = await pending;
    assert.equal(failed.status, 503);
    assert.equal(failed.headers['x-fal-error-type'], 'runner_disconnected');
    assert.match(JSON.stringify(failed.body), /was killed by SIGKILL \(out of memory, or killed by hand\)\. Retry the request/);
    const next = await runtime.client.invoke('slow', '/sleep', {});
    assert.equal(next.status, 200);
    assert.notEqual(next.headers['x-kiln-runner-id'], runner!.id);
    assert.ok((await runtime.client.logs('slow', { search: 'was killed' })).length > 0, 'the crash is in the logs');
  });

  it('has its apps back after the runtime itself is killed with SIGKILL', async () => {
    const { dataDir } = runtime;
    const before = await runtime.client.getApp('slow');
    await runtime.kill();
    // Runners notice the runtime is gone (their pipe closes) and exit on their own.
    await waitFor('orphaned runners to exit', () => (before.runnerDetails.every((runner) => !processAlive(runner.pid!)) ? true : undefined));
    runtime = await startRuntime({ dataDir });
    const apps = await runtime.client.listApps();
    assert.deepEqual(apps.map((app) => [app.name, app.revision, app.state]), [['slow', 1, 'live']]);
    const response = await runtime.client.invoke('slow', '/sleep', {});
    assert.equal(response.status, 200);
    assert.ok(response.headers['x-kiln-cold-start-ms'], 'the first request after a restart pays a cold start');
  });
});

describe('the service', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('refuses calls without the token, and says how to fix it without leaking it', async () => {
    for (const [method, url] of [['GET', '/v1/apps'], ['GET', '/v1/health'], ['POST', '/hello/greet'], ['GET', '/v1/secrets']] as const) {
      const response = await fetch(`${runtime.info.url}${url}`, { method });
      assert.equal(response.status, 401, url);
      const text = await response.text();
      assert.match(text, /Authorization: Bearer <token>/);
      assert.ok(!text.includes(runtime.info.token));
    }
    const wrong = new KilnClient({ url: runtime.info.url, token: 'not-the-token' });
    await assert.rejects(wrong.listApps(), (error: KilnApiError) => error.status === 401 && !error.message.includes(runtime.info.token));
  });

  it('keeps its token in a file only its user can read', () => {
    assert.equal(statSync(path.join(runtime.dataDir, 'runtime.json')).mode & 0o777, 0o600);
  });

  it('reports its version, URL, data directory, GPUs and Python', async () => {
    const health = await runtime.client.health();
    assert.equal(health.url, runtime.info.url);
    assert.equal(health.dataDir, runtime.dataDir);
    assert.equal(health.pid, runtime.child.pid);
    assert.ok(Array.isArray(health.gpus));
    assert.match(health.python.version!, /^3\.\d+\.\d+$/);
  });

  it('finds the running runtime on a second start instead of fighting it', async () => {
    const { spawnSync } = await import('node:child_process');
    const second = spawnSync(process.execPath, [path.resolve(__dirname, '..', '..', 'dist', 'runtime.js'), '--data-dir', runtime.dataDir, '--port', '0'], { encoding: 'utf8' });
    assert.equal(second.status, 0);
    assert.match(second.stdout, new RegExp(`already running for .*: ${runtime.info.url.replace(/[.]/g, '\\.')} \\(pid ${runtime.child.pid}\\)`));
    assert.equal((await runtime.client.health()).pid, runtime.child.pid);
  });

  it('takes any free port when the default one is taken by another runtime', async () => {
    const first = await startRuntime({ defaultPort: true });
    const second = await startRuntime({ defaultPort: true });
    try {
      assert.notEqual(first.info.url, second.info.url);
      assert.ok([first.info.url, second.info.url].every((url) => /^http:\/\/127\.0\.0\.1:\d+$/.test(url)));
      assert.equal((await second.client.health()).pid, second.child.pid);
    } finally {
      await Promise.all([first.dispose(), second.dispose()]);
    }
  });

  it('removes runtime.json and tears runners down on a clean stop', async () => {
    const markers = path.join(runtime.dataDir, 'volumes', 'markers');
    await deployOk(runtime.client, path.join(FIXTURES, 'teardown.py'));
    const runner = (await runtime.client.invoke('teardown', '/ping', {})).headers['x-kiln-runner-id']!;
    await runtime.stop();
    assert.equal(existsSync(path.join(runtime.dataDir, 'runtime.json')), false);
    assert.equal(readFileSync(path.join(markers, runner), 'utf8'), 'torn down');
  });
});

describe('apps that need Debian\'s Python packages', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime({ args: ['--python', SYSTEM_PYTHON] }); });
  after(async () => { await runtime.dispose(); });

  it('generates an image with the tiny model and serves it at the returned URL', async () => {
    await deployOk(runtime.client, path.join(EXAMPLES, 'text_to_image.py'));
    const response = await runtime.client.invoke('text-to-image', '/generate', { prompt: 'a red fox', steps: 8 });
    assert.equal(response.status, 200);
    const body = response.body as { image_url: string; width: number; backend: string };
    assert.equal(body.width, 48);
    assert.equal(body.backend, 'torch-cpu', 'Debian\'s torch, imported by the template once');
    assert.ok(body.image_url.startsWith(`${runtime.info.url}/files/text-to-image/`));
    const image = await fetch(body.image_url);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await image.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(bytes.readUInt32BE(16), 48, 'PNG width');
  });

  it('runs the same example on numpy where torch is missing', async () => {
    // A virtual environment that sees Debian's packages but not torch: a module of that name
    // in its own site-packages, found first, refuses to import.
    const venv = mkdtempSync(path.join(os.tmpdir(), 'kiln-no-torch-'));
    try {
      execFileSync(SYSTEM_PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', venv]);
      const sitePackages = execFileSync(path.join(venv, 'bin', 'python'), ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], { encoding: 'utf8' }).trim();
      writeFileSync(path.join(sitePackages, 'torch.py'), 'raise ImportError("torch is not installed in this environment")\n');
      await deployOk(runtime.client, path.join(EXAMPLES, 'text_to_image.py'), { name: 'no-torch', python: path.join(venv, 'bin', 'python') });
      const response = await runtime.client.invoke('no-torch', '/generate', { prompt: 'a red fox', steps: 8 });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal((response.body as { backend: string }).backend, 'numpy');
      await runtime.client.deleteApp('no-torch');
    } finally {
      rmSync(venv, { recursive: true, force: true });
    }
  });

  it('lets a deploy choose its own interpreter', async () => {
    const app = await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'), { python: 'python3' });
    assert.notEqual(app.python, SYSTEM_PYTHON);
    const health = await runtime.client.health();
    assert.equal(health.python.path, SYSTEM_PYTHON);
  });

  it('says clearly when an interpreter does not exist', async () => {
    const result = await deployFile(runtime.client, path.join(EXAMPLES, 'hello.py'), { python: '/no/such/python' });
    assert.equal(result.failure?.step, 'validate');
    assert.match(result.failure!.error.message, /Python interpreter "\/no\/such\/python" was not found/);
  });
});

describe('a runtime installed under /tmp, which runners see as a private folder', () => {
  let runtime: TestRuntime;
  let install: string;
  before(async () => {
    install = mkdtempSync(path.join(os.tmpdir(), 'kiln-install-'));
    cpSync(path.resolve(__dirname, '..', '..', 'dist'), install, { recursive: true });
    runtime = await startRuntime({ script: path.join(install, 'runtime.js') });
  });
  after(async () => {
    await runtime.dispose();
    rmSync(install, { recursive: true, force: true });
  });

  it('still gives its workers the harness', async () => {
    await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
    assert.equal((await runtime.client.invoke('hello', '/greet', {})).status, 200);
  });
});
