/**
 * Autoscaling on real runners: min_concurrency, max_concurrency, keep_alive, max_multiplexing,
 * concurrency_buffer, runtime scale changes, and GPUs given out whole.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KilnClient } from '../../src/client';
import { deployFile, deployOk, EXAMPLES, startRuntime, type TestRuntime, waitFor } from '../support/runtime';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures', 'runtime');

async function runnerCount(client: KilnClient, app: string, states = ['idle', 'busy', 'starting', 'setup']): Promise<number> {
  return (await client.getApp(app)).runnerDetails.filter((runner) => states.includes(runner.state)).length;
}

describe('scaling between min_concurrency and max_concurrency', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime({ args: ['--max-cpu-runners', '8'] }); });
  after(async () => { await runtime.dispose(); });

  it('keeps min_concurrency runners ready with no traffic at all', async () => {
    const app = await deployOk(runtime.client, path.join(EXAMPLES, 'high_throughput.py'));
    assert.deepEqual([app.scale.minConcurrency, app.scale.maxConcurrency], [2, 10]);
    await waitFor('two idle runners', async () => (await runnerCount(runtime.client, 'high-throughput', ['idle']) === 2 ? true : undefined));
  });

  it('scales up under load, never past max_concurrency, and queues the rest', async () => {
    await deployOk(runtime.client, path.join(FIXTURES, 'scaling.py'));
    let peak = 0;
    const watching = setInterval(() => {
      void runnerCount(runtime.client, 'scaling').then((count) => { peak = Math.max(peak, count); }, () => undefined);
    }, 50);
    const responses = await Promise.all(Array.from({ length: 7 }, () => runtime.client.invoke('scaling', '/work', { seconds: 1 })));
    clearInterval(watching);
    assert.ok(responses.every((response) => response.status === 200), JSON.stringify(responses.map((r) => r.body)));
    const runners = new Set(responses.map((response) => (response.body as { runner: string }).runner));
    assert.equal(runners.size, 3, 'seven requests shared max_concurrency = 3 runners');
    assert.equal(peak, 3);
    const waited = responses.map((response) => Number(response.headers['x-kiln-queue-ms']));
    assert.ok(waited.filter((ms) => ms >= 900).length >= 4, `requests beyond three runners waited in the queue: ${waited.join(', ')}`);
  });

  it('retires idle runners after keep_alive, down to min_concurrency (0)', async () => {
    await waitFor('runners to retire after keep_alive = 1 s', async () => (await runnerCount(runtime.client, 'scaling') === 0 ? true : undefined));
    const logs = await runtime.client.logs('scaling', { search: 'keep_alive 1 s' });
    assert.ok(logs.length >= 3, 'each retirement is logged with its reason');
  });

  it('starts a runner again on the next request, and says it was a cold start', async () => {
    const response = await runtime.client.invoke('scaling', '/work', { seconds: 0 });
    assert.equal(response.status, 200);
    assert.match(response.headers['x-kiln-cold-start-ms']!, /^\d+$/);
  });

  it('takes scale changes at runtime and keeps them across a redeploy until reset', async () => {
    const scaled = await runtime.client.scale('scaling', { minConcurrency: 2, keepAlive: 60 });
    assert.deepEqual([scaled.scale.minConcurrency, scaled.scale.keepAlive], [2, 60]);
    assert.deepEqual(scaled.scaleOverrides, { minConcurrency: 2, keepAlive: 60 });
    await waitFor('min_concurrency = 2 runners', async () => (await runnerCount(runtime.client, 'scaling', ['idle']) >= 2 ? true : undefined));

    const redeployed = await deployOk(runtime.client, path.join(FIXTURES, 'scaling.py'));
    assert.equal(redeployed.scale.minConcurrency, 2, 'a redeploy keeps scale settings changed at runtime');
    const reset = await deployOk(runtime.client, path.join(FIXTURES, 'scaling.py'), { resetScale: true });
    assert.deepEqual([reset.scale.minConcurrency, reset.scale.keepAlive], [0, 1], '--reset-scale goes back to the code\'s settings');
    assert.deepEqual(reset.scaleOverrides, {});
  });

  it('refuses scale settings that cannot hold', async () => {
    await assert.rejects(runtime.client.scale('scaling', { minConcurrency: 5, maxConcurrency: 2 }), /min_concurrency \(5\) would exceed max_concurrency \(2\)/);
    await assert.rejects(runtime.client.scale('scaling', { keepAlive: -1 }), /keep_alive must be a whole number of seconds, 0 or more/);
  });
});

describe('max_multiplexing and concurrency_buffer', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime({ args: ['--max-cpu-runners', '8'] }); });
  after(async () => { await runtime.dispose(); });

  it('lets one runner handle max_multiplexing requests at once, sync and async', async () => {
    await deployOk(runtime.client, path.join(FIXTURES, 'multiplexed.py'));
    const sync = await Promise.all(Array.from({ length: 4 }, () => runtime.client.invoke('multiplexed', '/sync', { seconds: 0.5 })));
    assert.equal(new Set(sync.map((response) => (response.body as { runner: string }).runner)).size, 1);
    assert.equal(Math.max(...sync.map((response) => (response.body as { peak: number }).peak)), 4, 'four sync handlers ran at once');
    const asynchronous = await Promise.all(Array.from({ length: 4 }, () => runtime.client.invoke('multiplexed', '/async', { seconds: 0.5 })));
    assert.ok(asynchronous.every((response) => response.status === 200));
    assert.equal(new Set(asynchronous.map((response) => (response.body as { runner: string }).runner)).size, 1);
    assert.equal(Math.max(...asynchronous.map((response) => (response.body as { peak: number }).peak)), 4, 'four async handlers overlapped on the one event loop');
  });

  it('keeps concurrency_buffer extra runners warm beyond the load, even with keep_alive = 0', async () => {
    await deployOk(runtime.client, path.join(FIXTURES, 'buffered.py'));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await runnerCount(runtime.client, 'buffered', ['idle']), 1, 'one warm runner with no traffic');
    const response = await runtime.client.invoke('buffered', '/ping', {});
    assert.equal(response.headers['x-kiln-cold-start-ms'], undefined, 'the buffer runner took the request warm');
  });
});

describe('GPUs', () => {
  let runtime: TestRuntime;
  let fakeBin: string;
  // nvidia-smi is the one external boundary here: a stand-in reports two H100s, so allocation,
  // CUDA_VISIBLE_DEVICES and fallbacks are exercised for real on a machine without GPUs.
  before(async () => {
    fakeBin = mkdtempSync(path.join(os.tmpdir(), 'kiln-fake-gpu-'));
    const script = path.join(fakeBin, 'nvidia-smi');
    writeFileSync(script, '#!/bin/sh\necho "0, NVIDIA H100 80GB HBM3, 81559, GPU-aaaa"\necho "1, NVIDIA H100 80GB HBM3, 81559, GPU-bbbb"\n');
    chmodSync(script, 0o755);
    runtime = await startRuntime({ args: ['--gpu-fallback', 'fail'], env: { PATH: `${fakeBin}:${process.env.PATH}` } });
  });
  after(async () => {
    await runtime.dispose();
    rmSync(fakeBin, { recursive: true, force: true });
  });

  it('reports the GPUs it found', async () => {
    const { gpus } = await runtime.client.health();
    assert.deepEqual(gpus.map((gpu) => [gpu.index, gpu.name, gpu.memoryMiB]), [[0, 'NVIDIA H100 80GB HBM3', 81559], [1, 'NVIDIA H100 80GB HBM3', 81559]]);
  });

  it('gives each runner whole GPUs of its own through CUDA_VISIBLE_DEVICES, and no more runners than GPUs', async () => {
    await deployOk(runtime.client, path.join(FIXTURES, 'gpu_app.py'));
    const responses = await Promise.all(Array.from({ length: 4 }, () => runtime.client.invoke('gpu-app', '/devices', { hold: 1 })));
    const devices = responses.map((response) => (response.body as { cuda_visible_devices: string }).cuda_visible_devices);
    assert.deepEqual([...new Set(devices)].sort(), ['0', '1']);
    const detail = await runtime.client.getApp('gpu-app');
    assert.equal(detail.runnerDetails.length, 2, 'max_concurrency 4, but only two GPUs');
    assert.deepEqual(detail.runnerDetails.map((runner) => runner.gpus).flat().sort(), [0, 1]);
  });

  it('fails a deploy clearly when no GPU here can hold the app and fallback is off', async () => {
    const result = await deployFile(runtime.client, path.join(EXAMPLES, 'large_model.py'));
    assert.equal(result.failure?.step, 'starting-runner');
    assert.match(result.failure!.error.message, /No GPU here can run 4 × GPU-H100 \(80GB\): this host has NVIDIA H100 80GB HBM3 \(80 GiB\), NVIDIA H100 80GB HBM3 \(80 GiB\)/);
  });
});

describe('GPU apps on a host without GPUs', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime({ env: { PATH: '/usr/bin:/bin' } }); });
  after(async () => { await runtime.dispose(); });

  it('run on CPU with a visible warning', async () => {
    const result = await deployFile(runtime.client, path.join(EXAMPLES, 'large_model.py'));
    assert.ok(result.app, JSON.stringify(result.failure));
    assert.ok(result.events.some((event) => event.type === 'warning' && /No GPU for GPU-H100 on this host: the app runs on CPU/.test(event.message)));
    assert.equal(result.app.runnerDetails[0]!.cpuFallback, true);
    const response = await runtime.client.invoke('large-model', '/devices', {});
    assert.deepEqual(response.body, { cuda_visible_devices: '', gpus: 0 });
    assert.ok((await runtime.client.logs('large-model', { search: 'runs on CPU' })).length > 0);
  });
});
