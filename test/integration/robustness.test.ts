/**
 * What must hold when things go wrong at the same time: concurrent deploys, deletes during a
 * deploy, runners that hang in setup or in a request, secrets in error messages, malformed
 * uploads, a redeploy that needs the old revision's only GPU, and stopping while logs are followed.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KilnApiError } from '../../src/client';
import { deployFile, deployOk, EXAMPLES, startRuntime, type TestRuntime, waitFor } from '../support/runtime';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'runtime');

describe('deploys at the same time', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('lets one deploy of an app run at a time, and keeps its lock until it ends', async () => {
    const first = deployFile(runtime.client, path.join(FIXTURES, 'slow_setup.py'));
    await waitFor('the first deploy to reach setup', async () => ((await runtime.client.logs('slow-setup', {})).length > 0 ? true : undefined));
    const second = await deployFile(runtime.client, path.join(FIXTURES, 'slow_setup.py'));
    assert.match(second.failure!.error.message, /already being deployed/);
    const third = await deployFile(runtime.client, path.join(FIXTURES, 'slow_setup.py'));
    assert.match(third.failure!.error.message, /already being deployed/, 'the refused deploy did not release the first one\'s lock');
    const done = await first;
    assert.equal(done.app?.revision, 1);
  });

  it('refuses to delete an app while it is being deployed', async () => {
    const redeploy = deployFile(runtime.client, path.join(FIXTURES, 'slow_setup.py'));
    await waitFor('the redeploy to start', async () => ((await runtime.client.getApp('slow-setup')).state === 'deploying' ? true : undefined));
    await assert.rejects(runtime.client.deleteApp('slow-setup'), (error: KilnApiError) => error.status === 409 && /is being deployed/.test(error.message));
    assert.equal((await redeploy).app?.revision, 2);
    await runtime.client.deleteApp('slow-setup');
  });

  it('refuses malformed uploads with a 400 that says what a deploy is', async () => {
    for (const body of [{ entry: 'toString', files: {} }, { entry: 'a.py', files: { 'a.py': 5 } }, { entry: '__proto__', files: {} }, { files: {} }]) {
      const response = await fetch(`${runtime.info.url}/v1/deploys`, {
        method: 'POST', headers: { authorization: `Bearer ${runtime.info.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(((await response.json()) as { detail: string }).detail, /A deploy is a JSON object with "entry"/);
    }
    assert.equal((await runtime.client.health()).pid, runtime.child.pid);
  });
});

describe('runners that hang', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startRuntime();
    await deployOk(runtime.client, path.join(FIXTURES, 'flaky_setup.py'));
  });
  after(async () => { await runtime.dispose(); });

  it('answers 504 past request_timeout and replaces the runner', async () => {
    const response = await runtime.client.invoke('flaky-setup', '/ping', { seconds: 5 });
    assert.equal(response.status, 504);
    assert.equal(response.headers['x-fal-error-type'], 'request_timeout');
    assert.match(JSON.stringify(response.body), /request_timeout of 1 s/);
  });

  it('counts a runner stopped at startup_timeout as a failed start: the waiting request gets a 503 saying so', async () => {
    const response = await runtime.client.invoke('flaky-setup', '/ping', {});
    assert.equal(response.status, 503);
    assert.equal(response.headers['x-fal-error-type'], 'runner_scheduling_failure');
    assert.match(JSON.stringify(response.body), /did not finish within startup_timeout \(1 s\)/);
    const app = await runtime.client.getApp('flaky-setup');
    assert.equal(app.state, 'failing');
    assert.ok(app.warnings.some((warning) => /startup_timeout/.test(warning)));
  });
});

describe('secrets in error messages', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('are redacted before the caller, the queue and the logs see them', async () => {
    await runtime.client.setSecret('API_KEY', 'sk-supersecret-123');
    await deployOk(runtime.client, path.join(FIXTURES, 'leaky.py'));
    const response = await runtime.client.invoke('leaky', '/fail', {});
    assert.deepEqual([response.status, response.body], [500, { detail: 'could not authenticate with [redacted]' }]);
    const queued = await runtime.client.queueSubmit('leaky', '/fail', {});
    const result = await waitFor('the queued failure', async () => {
      const status = await runtime.client.queueStatus('leaky', queued.request_id);
      return status.status === 'COMPLETED' ? runtime.client.queueResult('leaky', queued.request_id) : undefined;
    });
    assert.deepEqual(result.body, { detail: 'could not authenticate with [redacted]' });
    const logs = await runtime.client.logs('leaky', { search: 'could not authenticate' });
    assert.ok(logs.length > 0 && logs.every((record) => !record.text.includes('sk-supersecret')));
  });
});

describe('a redeploy on a host with one GPU', () => {
  let runtime: TestRuntime;
  let fakeBin: string;
  before(async () => {
    fakeBin = mkdtempSync(path.join(os.tmpdir(), 'kiln-fake-gpu-'));
    writeFileSync(path.join(fakeBin, 'nvidia-smi'), '#!/bin/sh\necho "0, NVIDIA H100 80GB HBM3, 81559, GPU-aaaa"\n');
    chmodSync(path.join(fakeBin, 'nvidia-smi'), 0o755);
    runtime = await startRuntime({ args: ['--gpu-fallback', 'fail'], env: { PATH: `${fakeBin}:${process.env.PATH}` } });
  });
  after(async () => {
    await runtime.dispose();
    rmSync(fakeBin, { recursive: true, force: true });
  });

  it('takes the GPU from the old revision\'s idle runner, and says so', async () => {
    await deployOk(runtime.client, path.join(FIXTURES, 'gpu_single.py'));
    assert.equal((await runtime.client.invoke('gpu-single', '/devices', {})).status, 200);
    const redeploy = await deployFile(runtime.client, path.join(FIXTURES, 'gpu_single.py'));
    assert.equal(redeploy.app?.revision, 2, JSON.stringify(redeploy.failure));
    assert.ok(redeploy.events.some((event) => event.type === 'warning' && /stopped 1 idle runner\(s\) of revision 1 to make room/.test(event.message)));
    const response = await runtime.client.invoke('gpu-single', '/devices', {});
    assert.deepEqual([response.headers['x-kiln-revision'], (response.body as { cuda_visible_devices: string }).cuda_visible_devices], ['2', '0']);
  });
});

describe('stopping the runtime', () => {
  it('does not wait on clients following logs', async () => {
    const runtime = await startRuntime();
    await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
    const seen: string[] = [];
    const following = runtime.client.followLogs('hello', { tail: 0 }, (record) => seen.push(record.text)).catch(() => undefined);
    await waitFor('the follower to see a new line', async () => {
      await runtime.client.invoke('hello', '/greet', { name: 'follower' });
      return seen.includes('greeting follower') ? true : undefined;
    });
    await runtime.client.shutdown();
    await waitFor('the runtime to exit', () => (runtime.child.exitCode !== null ? true : undefined), 15_000);
    await following;
    await runtime.dispose();
  });
});

describe('app names in URLs', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('are checked before they name a file, so no path escapes the data directory', async () => {
    for (const url of ['/v1/apps/..%2Fescaped/logs?follow=1', '/v1/apps/..%2F..%2Fx', '/queue/..%2Fx/requests/1/status', '/Bad_Name/run']) {
      const response = await fetch(`${runtime.info.url}${url}`, { headers: { authorization: `Bearer ${runtime.info.token}` }, method: url.endsWith('/run') ? 'POST' : 'GET' });
      assert.equal(response.status, 404, url);
      assert.match(((await response.json()) as { detail: string }).detail, /app names are lower-case letters, digits and "-"/);
    }
    assert.equal(existsSync(path.join(runtime.dataDir, 'escaped.jsonl')), false);
  });
});
