/**
 * The spec's configuration at work on real runners: env, encrypted secrets, volumes; fal's queue
 * API and the proxy shape @fal-ai/client uses; and the Prometheus metrics.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFalClient } from '@fal-ai/client';
import type { QueueStatus } from '../../src/shared/api';
import { deployFile, deployOk, EXAMPLES, startRuntime, type TestRuntime, waitFor } from '../support/runtime';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'runtime');
const HF_TOKEN = 'hf_kilnTestTokenAbcdefghijklmnop';

describe('env and secrets', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('fails a deploy whose secrets are not set, saying how to set them', async () => {
    const result = await deployFile(runtime.client, path.join(EXAMPLES, 'secure_model.py'));
    assert.equal(result.failure?.step, 'starting-runner');
    assert.match(result.failure!.error.message, /Secrets HF_TOKEN, API_KEY are not set\. Set them with: kiln secrets set HF_TOKEN=\.\.\. API_KEY=\.\.\./);
  });

  it('gives runners the app\'s env and its secrets, and never stores or shows a secret in the clear', async () => {
    await runtime.client.setSecret('HF_TOKEN', HF_TOKEN);
    await runtime.client.setSecret('API_KEY', 'key-1234567890');
    const secrets = await runtime.client.listSecrets();
    assert.deepEqual(secrets.map((secret) => secret.name), ['API_KEY', 'HF_TOKEN']);
    assert.ok(!JSON.stringify(secrets).includes(HF_TOKEN), 'the API returns names only');
    assert.ok(!readFileSync(path.join(runtime.dataDir, 'secrets.json'), 'utf8').includes(HF_TOKEN), 'encrypted at rest');

    await deployOk(runtime.client, path.join(EXAMPLES, 'secure_model.py'));
    const response = await runtime.client.invoke('secure-model', '/info', {});
    assert.deepEqual(response.body, { model_version: 'v2.0', debug: false, has_api_key: true, token_length: HF_TOKEN.length });

    const logs = await runtime.client.logs('secure-model', { search: 'setup with HF_TOKEN' });
    assert.deepEqual(logs.map((record) => record.text), ['setup with HF_TOKEN=[redacted]']);
    const logFile = readFileSync(path.join(runtime.dataDir, 'logs', 'secure-model.jsonl'), 'utf8');
    assert.ok(!logFile.includes(HF_TOKEN), 'the secret never reaches the log files');
  });

  it('refuses a secret name that cannot be an environment variable', async () => {
    await assert.rejects(runtime.client.setSecret('HF-TOKEN', 'x'), /not a valid secret name/);
  });

  it('hides the runtime\'s data directory, secrets key included, from runners', async () => {
    assert.equal((await runtime.client.health()).sandbox, true, 'bubblewrap sandboxes runners on this machine (.ci/run installs it)');
    const app = await deployOk(runtime.client, path.join(FIXTURES, 'probe.py'));
    const exists = async (file: string) => ((await runtime.client.invoke('probe', '/exists', { path: file })).body as { exists: boolean }).exists;
    assert.equal(await exists(path.join(runtime.dataDir, 'secrets.key')), false);
    assert.equal(await exists(path.join(runtime.dataDir, 'secrets.json')), false);
    assert.equal(await exists(path.join(runtime.dataDir, 'runtime.json')), false);
    assert.equal(await exists(path.join(runtime.dataDir, 'apps', 'probe', 'revisions', String(app.revision), 'src', 'probe.py')), true, 'its own source stays visible');
    // Nor through another process's view of the file system: runners have a process namespace of their own.
    assert.equal(await exists(`/proc/${runtime.child.pid}/root${runtime.dataDir}/secrets.key`), false);
    const { pids } = (await runtime.client.invoke('probe', '/processes', {})).body as { pids: number[] };
    assert.ok(!pids.includes(runtime.child.pid!), `the runtime's process is not visible: ${pids.join(', ')}`);
  });

  it('serves only plain files an app saved, never a link out of its folder', async () => {
    await runtime.client.invoke('probe', '/link', { target: path.join(runtime.dataDir, 'runtime.json'), name: 'leak.json' });
    const response = await fetch(`${runtime.info.url}/files/probe/leak.json`);
    assert.equal(response.status, 404);
    assert.ok(!(await response.text()).includes(runtime.info.token));
    assert.equal((await fetch(`${runtime.info.url}/files/probe/..%2F..%2Fruntime.json`)).status, 404);
  });

  it('stops a runner that breaks the worker protocol, and keeps serving', async () => {
    const broken = await runtime.client.invoke('probe', '/garble', {});
    assert.equal(broken.status, 503);
    assert.ok((await runtime.client.logs('probe', { search: 'Apps must not write to fd 4' })).length > 0);
    assert.equal((await runtime.client.invoke('probe', '/exists', { path: '/' })).status, 200);
    assert.equal((await runtime.client.health()).pid, runtime.child.pid, 'the runtime itself is unharmed');
  });

  it('stops a runner whose frames are JSON but not messages the runtime can act on, and keeps serving', async () => {
    const forged = ['{"type": "failed"}', '{"type": "failed", "phase": "setup", "error": null}', '{"type": "ready"}',
      '{"type": "result", "id": "r", "ok": false, "status": "teapot", "executionMs": 0}', '{"type": "inspect", "apps": 3}', 'null', '[1]', '{}'];
    for (const frame of forged) {
      const response = await runtime.client.invoke('probe', '/forge', { frame });
      assert.equal(response.status, 503, frame);
      assert.equal((await runtime.client.health()).pid, runtime.child.pid, `the runtime itself is unharmed by ${frame}`);
    }
    assert.ok((await runtime.client.logs('probe', { search: 'a failed frame without a phase and an error message' })).length > 0);
    assert.equal((await runtime.client.invoke('probe', '/exists', { path: '/' })).status, 200);
  });

  it('keeps the host read-only for runners, but for their volumes and /tmp', async () => {
    const write = async (file: string) => (await runtime.client.invoke('probe', '/write', { path: file })).body as { written: boolean; error?: string };
    // The home folder: on the host, outside /tmp (which the runner has a private copy of).
    const outside = path.join(os.homedir(), `kiln-probe-${process.pid}`);
    assert.deepEqual(await write(outside), { written: false, error: 'Read-only file system' });
    assert.equal(existsSync(outside), false);
    assert.deepEqual(await write('/tmp/scratch.txt'), { written: true });
  });
});

describe('volumes', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('mounts each volume at its declared path, and keeps its files across redeploys', async () => {
    await deployOk(runtime.client, path.join(EXAMPLES, 'model_with_storage.py'));
    const first = await runtime.client.invoke('model-with-storage', '/predict', { value: 1.5 });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal((first.body as { prediction: number }).prediction, 2);
    assert.ok((await runtime.client.logs('model-with-storage', { search: 'built the model and cached it at /models/my-model.json' })).length === 1);

    await deployOk(runtime.client, path.join(EXAMPLES, 'model_with_storage.py'));
    const second = await runtime.client.invoke('model-with-storage', '/predict', { value: 2 });
    assert.equal((second.body as { model_created_at: number }).model_created_at, (first.body as { model_created_at: number }).model_created_at);
    assert.ok((await runtime.client.logs('model-with-storage', { search: 'loaded the cached model' })).length === 1);

    const volumes = await runtime.client.volumes();
    const byName = Object.fromEntries(volumes.map((volume) => [volume.name, volume]));
    assert.deepEqual(byName['model-cache']!.apps, ['model-with-storage']);
    assert.ok(byName['model-cache']!.sizeBytes > 0);
    // value: float, sent 2, reaches the handler as 2.0 (as pydantic gives it).
    assert.equal(readFileSync(path.join(byName['user-data']!.path, 'requests.log'), 'utf8'), '1.5\n2.0\n');
  });
});

describe('the queue API', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startRuntime();
    await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
    await deployOk(runtime.client, path.join(FIXTURES, 'slow.py'));
    await runtime.client.scale('slow', { maxConcurrency: 1 });
  });
  after(async () => { await runtime.dispose(); });

  it('submits, reports status with logs, and returns the result', async () => {
    const submitted = await runtime.client.queueSubmit('hello', '/greet', { name: 'Queue' });
    assert.match(submitted.status_url, new RegExp(`^${runtime.info.url}/queue/hello/requests/${submitted.request_id}/status$`));
    assert.equal(submitted.response_url, `${runtime.info.url}/queue/hello/requests/${submitted.request_id}`);
    assert.equal(submitted.cancel_url, `${submitted.response_url}/cancel`);
    const done = await waitFor('COMPLETED', async () => {
      const status = await runtime.client.queueStatus('hello', submitted.request_id, { logs: true });
      return status.status === 'COMPLETED' ? status : undefined;
    });
    assert.ok(done.status === 'COMPLETED' && typeof done.metrics.inference_time === 'number');
    assert.ok(done.logs?.some((log) => log.message === 'greeting Queue'), JSON.stringify(done.logs));
    const result = await runtime.client.queueResult('hello', submitted.request_id);
    assert.deepEqual([result.status, result.body], [200, { message: 'Hello, Queue!' }]);
  });

  it('reports the queue position, cancels a waiting request, and refuses to cancel a finished one', async () => {
    const busy = await runtime.client.queueSubmit('slow', '/sleep', { seconds: 2 });
    await waitFor('the first request to start', async () => ((await runtime.client.queueStatus('slow', busy.request_id)).status === 'IN_PROGRESS' ? true : undefined));
    const waiting = await runtime.client.queueSubmit('slow', '/sleep', { seconds: 0 });
    const status = await runtime.client.queueStatus('slow', waiting.request_id);
    assert.deepEqual(status.status === 'IN_QUEUE' && status.queue_position, 0);
    assert.equal(await runtime.client.queueCancel('slow', waiting.request_id), 'CANCELLATION_REQUESTED');
    const cancelled = await waitFor('the cancelled result', async () => {
      const current = await runtime.client.queueStatus('slow', waiting.request_id);
      return current.status === 'COMPLETED' ? runtime.client.queueResult('slow', waiting.request_id) : undefined;
    });
    assert.equal(cancelled.status, 499);
    await waitFor('the first request to finish', async () => ((await runtime.client.queueStatus('slow', busy.request_id)).status === 'COMPLETED' ? true : undefined));
    assert.equal(await runtime.client.queueCancel('slow', busy.request_id), 'ALREADY_COMPLETED');
  });

  it('streams status changes until the request completes', async () => {
    const submitted = await runtime.client.queueSubmit('slow', '/sleep', { seconds: 0.3 });
    const seen: QueueStatus['status'][] = [];
    const last = await runtime.client.followQueueStatus('slow', submitted.request_id, (status) => seen.push(status.status));
    assert.equal(last?.status, 'COMPLETED');
    assert.equal(seen.at(-1), 'COMPLETED');
  });

  it('answers submit errors at once: 422 for bad input, 404 for an unknown endpoint', async () => {
    await assert.rejects(runtime.client.queueSubmit('hello', '/greet', { name: 3 }), /body\.name: Input should be a valid string/);
    await assert.rejects(runtime.client.queueSubmit('hello', '/nope', {}), /has no endpoint \/nope/);
  });

  it('takes queued requests back up after the runtime is killed', async () => {
    const busy = await runtime.client.queueSubmit('slow', '/sleep', { seconds: 5 });
    await waitFor('the first request to start', async () => ((await runtime.client.queueStatus('slow', busy.request_id)).status === 'IN_PROGRESS' ? true : undefined));
    const queued = await runtime.client.queueSubmit('slow', '/sleep', { seconds: 0 });
    const { dataDir } = runtime;
    await runtime.kill();
    runtime = await startRuntime({ dataDir });
    const result = await waitFor('the queued request to run after the restart', async () => {
      const status = await runtime.client.queueStatus('slow', queued.request_id);
      return status.status === 'COMPLETED' ? runtime.client.queueResult('slow', queued.request_id) : undefined;
    }, 30_000);
    assert.equal(result.status, 200);
    // Completed results are read back from their files, before a restart and after one.
    assert.deepEqual((await runtime.client.queueResult('slow', queued.request_id)).body, result.body);
    await runtime.kill();
    runtime = await startRuntime({ dataDir });
    assert.deepEqual((await runtime.client.queueResult('slow', queued.request_id)).body, result.body);
    assert.equal((await runtime.client.queueStatus('slow', queued.request_id)).status, 'COMPLETED');
  });
});

describe('fal client compatibility and metrics', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startRuntime();
    await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
  });
  after(async () => { await runtime.dispose(); });

  const proxy = (target: string, init: RequestInit = {}) => fetch(`${runtime.info.url}/v1/fal-proxy`, {
    ...init,
    headers: { authorization: `Key ${runtime.info.token}`, 'content-type': 'application/json', 'x-fal-target-url': target, ...init.headers },
  });

  it('serves @fal-ai/client\'s proxy mode: direct calls and the queue by x-fal-target-url', async () => {
    const direct = await proxy('https://fal.run/kiln/hello/greet', { method: 'POST', body: JSON.stringify({ name: 'Proxy' }) });
    assert.deepEqual([direct.status, await direct.json()], [200, { message: 'Hello, Proxy!' }]);

    const submit = await proxy('https://queue.fal.run/kiln/hello/greet', { method: 'POST', body: JSON.stringify({ name: 'Queued' }) });
    const { request_id: id } = await submit.json() as { request_id: string };
    await waitFor('COMPLETED through the proxy', async () => {
      const status = await proxy(`https://queue.fal.run/kiln/hello/requests/${id}/status`, { method: 'GET' });
      return ((await status.json()) as { status: string }).status === 'COMPLETED' ? true : undefined;
    });
    const result = await proxy(`https://queue.fal.run/kiln/hello/requests/${id}`, { method: 'GET' });
    assert.deepEqual(await result.json(), { message: 'Hello, Queued!' });
  });

  it('gives the official @fal-ai/client in proxy mode its results and their request ids', async () => {
    const fal = createFalClient({
      proxyUrl: { url: `${runtime.info.url}/v1/fal-proxy`, when: 'always' },
      requestMiddleware: async (request) => ({ ...request, headers: { ...request.headers, authorization: `Key ${runtime.info.token}` } }),
    });
    const queued = await fal.subscribe('kiln/hello/greet', { input: { name: 'Client' }, pollInterval: 50 });
    assert.deepEqual(queued.data, { message: 'Hello, Client!' });
    assert.match(queued.requestId, /^[0-9a-f-]{36}$/, 'the queued result carries x-fal-request-id');
    const { request_id: id } = await fal.queue.submit('kiln/hello/greet', { input: { name: 'Later' } });
    await fal.queue.subscribeToStatus('kiln/hello/greet', { requestId: id, mode: 'polling', pollInterval: 50 });
    const later = await fal.queue.result('kiln/hello/greet', { requestId: id });
    assert.deepEqual([later.data, later.requestId], [{ message: 'Hello, Later!' }, id]);
    const direct = await fal.run('kiln/hello/greet', { input: { name: 'Direct' } });
    assert.deepEqual(direct.data, { message: 'Hello, Direct!' });
    assert.match(direct.requestId, /^[0-9a-f-]{36}$/);
    await assert.rejects(fal.run('kiln/hello/greet', { input: { name: 5 } }), (error: { status?: number; body?: unknown }) =>
      error.status === 422 && JSON.stringify(error.body).includes('"loc":["body","name"]'));
  });

  it('exposes Prometheus metrics of requests, runners and cost', async () => {
    await runtime.client.invoke('hello', '/greet', {});
    const text = await runtime.client.metrics();
    assert.match(text, /kiln_requests_total\{app="hello",status="200"\} \d+/);
    assert.match(text, /kiln_runners\{app="hello",state="idle"\} 1/);
    assert.match(text, /kiln_cold_start_seconds_count\{app="hello"\} 1/);
    assert.match(text, /kiln_cost_usd\{app="hello"\} \d/);
  });
});
