/**
 * What an editor watches the runtime through, end to end with real workers: the events stream,
 * the usage history, log tails that carry on across a runtime restart (the client's and
 * `kiln logs -f`), and hot reload (`kiln dev`).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { followEventsAcrossRestarts, followLogsAcrossRestarts, KilnClient, locateRuntime, NoRuntimeError } from '../../src/client';
import type { RuntimeEventRecord } from '../../src/shared/api';
import { deployOk, EXAMPLES, ROOT, startRuntime, type TestRuntime, waitFor } from '../support/runtime';

const CLI = path.join(ROOT, 'dist', 'cli.js');

/** A client for whichever runtime serves `dataDir` now, as the editor and the CLI find it. */
function connectTo(dataDir: string): () => Promise<KilnClient> {
  return async () => {
    const location = locateRuntime({ dataDir, env: {} });
    if (!location) throw new NoRuntimeError(dataDir);
    return new KilnClient(location);
  };
}

describe('the events stream and the usage history', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('streams deploys, runners, scaling, secrets and deletes as they happen', async () => {
    const events: RuntimeEventRecord[] = [];
    const controller = new AbortController();
    let opened!: () => void;
    const open = new Promise<void>((resolve) => { opened = resolve; });
    const following = runtime.client.followEvents((event) => events.push(event), { signal: controller.signal, onOpen: opened });
    await open;

    await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
    await runtime.client.scale('hello', { keepAlive: 120 });
    await runtime.client.setSecret('WATCHED_TOKEN', 'value-never-sent');
    await runtime.client.unsetSecret('WATCHED_TOKEN');
    await runtime.client.deleteApp('hello');
    await waitFor('the runner stopped event', () => (events.some((event) => event.type === 'runner.stopped') ? true : undefined));
    controller.abort();
    await following;

    const types = events.map((event) => event.type);
    const order = ['deploy.started', 'runner.started', 'runner.ready', 'app.deployed', 'deploy.finished', 'app.scaled', 'secret.set', 'secret.unset', 'app.deleted'];
    assert.deepEqual(order.map((type) => types.indexOf(type as never)).filter((index) => index >= 0).length, order.length, `missing events in ${types.join(', ')}`);
    assert.deepEqual(order.map((type) => types.indexOf(type as never)), [...order.map((type) => types.indexOf(type as never))].sort((a, b) => a - b),
      `events out of order: ${types.join(', ')}`);
    assert.ok(types.includes('runner.stopped'), `no runner.stopped in ${types.join(', ')}`);
    assert.deepEqual(events.map((event) => event.seq), events.map((_, index) => events[0]!.seq + index), 'numbered in order');
    const finished = events.find((event) => event.type === 'deploy.finished');
    assert.deepEqual(finished && { app: finished.app, ok: finished.ok, revision: finished.revision }, { app: 'hello', ok: true, revision: 1 });
    const scaled = events.find((event) => event.type === 'app.scaled');
    assert.equal(scaled?.type === 'app.scaled' && scaled.scale.keepAlive, 120);
    assert.ok(!JSON.stringify(events).includes('value-never-sent'), 'a secret value never appears in an event');
  });

  it('reports requests, latency, runners and cost per app and minute, and the cost since a time', async () => {
    await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'), { name: 'usage-hello' });
    for (let call = 0; call < 5; call++) assert.equal((await runtime.client.invoke('usage-hello', '/greet', { name: `n${call}` })).status, 200);
    const usage = await runtime.client.usage('1h');
    assert.equal(usage.stepSeconds, 60);
    const mine = usage.samples.filter((sample) => sample.app === 'usage-hello');
    assert.ok(mine.length >= 1, `no sample for usage-hello in ${JSON.stringify(usage.samples)}`);
    const requests = mine.reduce((sum, sample) => sum + sample.requests, 0);
    assert.equal(requests, 5);
    const latest = mine.at(-1)!;
    assert.equal(latest.runners, 1);
    assert.ok(latest.p50Ms !== null && latest.p95Ms !== null && latest.p50Ms <= latest.p95Ms, JSON.stringify(latest));
    assert.ok(latest.costUsd > 0, 'an XS runner that ran costs something');
    const cost = usage.costSince.find((entry) => entry.app === 'usage-hello');
    assert.ok(cost && Math.abs(cost.usd - latest.costUsd) < 1e-9, `cost since an hour ago is the app's whole cost: ${JSON.stringify(usage.costSince)}`);

    const bad = await runtime.client.usage('yesterday-ish').catch((error: Error) => error);
    assert.match(String(bad), /"yesterday-ish" is not a time/);
  });
});

describe('following across a runtime restart', () => {
  let runtime: TestRuntime;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'kiln-restart-'));
    runtime = await startRuntime({ dataDir });
    await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
  });
  after(async () => {
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('tails an app\'s log through a restart without losing or repeating a line, as `kiln logs -f` does', async () => {
    const seen: string[] = [];
    const states: string[] = [];
    const controller = new AbortController();
    const cli = spawnCli(['logs', 'hello', '-f', '--tail', '1'], { KILN_HOME: dataDir });
    const following = followLogsAcrossRestarts('hello', { tail: 1 }, (record) => seen.push(record.text), {
      connect: connectTo(dataDir), signal: controller.signal, onState: (state) => states.push(state.state),
    });
    await waitFor('the tail to open', () => (states.includes('open') ? true : undefined));
    await waitFor('the CLI to show the backlog', () => (cli.stdout().includes('\n') ? true : undefined));

    await runtime.client.invoke('hello', '/greet', { name: 'before' });
    await waitFor('the line before the restart', () => (seen.includes('greeting before') ? true : undefined));
    await runtime.stop();
    runtime = await startRuntime({ dataDir });
    const restored = await waitFor('the app back after the restart', async () => ((await runtime.client.listApps()).length ? true : undefined));
    assert.ok(restored);
    await runtime.client.invoke('hello', '/greet', { name: 'after' });
    await waitFor('the line after the restart', () => (seen.includes('greeting after') ? true : undefined));
    await waitFor('the CLI to show the line after the restart', () => (cli.stdout().includes('greeting after') ? true : undefined));
    controller.abort();
    await following;
    const output = await cli.stop();

    assert.equal(seen.filter((text) => text === 'greeting before').length, 1);
    assert.equal(seen.filter((text) => text === 'greeting after').length, 1);
    assert.ok(states.includes('waiting'), `the tail noticed the runtime was gone: ${states.join(' ')}`);
    assert.equal(output.stdout.match(/greeting before/g)?.length, 1, output.stdout);
    assert.equal(output.stdout.match(/greeting after/g)?.length, 1, output.stdout);
    assert.match(output.stderr, /lost the runtime/);
    assert.match(output.stderr, /the runtime is back/);
  });

  it('watches events again once the runtime is back', async () => {
    const events: RuntimeEventRecord[] = [];
    let opens = 0;
    const controller = new AbortController();
    const following = followEventsAcrossRestarts((event) => events.push(event), {
      connect: connectTo(dataDir), signal: controller.signal, onState: (state) => { if (state.state === 'open') opens++; },
    });
    await waitFor('the stream to open', () => (opens === 1 ? true : undefined));
    await runtime.stop();
    runtime = await startRuntime({ dataDir });
    await waitFor('the stream to open again', () => (opens === 2 ? true : undefined));
    await runtime.client.scale('hello', { keepAlive: 90 });
    await waitFor('the scale event from the new runtime', () => (events.some((event) => event.type === 'app.scaled') ? true : undefined));
    controller.abort();
    await following;
  });
});

describe('kiln dev', () => {
  let runtime: TestRuntime;
  let folder: string;
  before(async () => {
    runtime = await startRuntime();
    folder = mkdtempSync(path.join(os.tmpdir(), 'kiln-dev-'));
    cpSync(path.join(EXAMPLES, 'hello.py'), path.join(folder, 'hello.py'));
  });
  after(async () => {
    await runtime.dispose();
    rmSync(folder, { recursive: true, force: true });
  });

  it('deploys a dev copy, redeploys it on save, keeps the last good revision through a broken save, and deletes it on Ctrl-C', async () => {
    const file = path.join(folder, 'hello.py');
    const dev = spawnCli(['dev', file], { KILN_HOME: runtime.dataDir }, folder);
    await waitFor('the first revision', () => (/revision 1 live in/.test(dev.stdout()) ? true : undefined), 60_000);
    assert.deepEqual((await runtime.client.invoke('hello-dev', '/greet', { name: 'Ada' })).body, { message: 'Hello, Ada!' });

    writeFileSync(file, readFileSync(file, 'utf8').replace('self.greeting = "Hello"', 'self.greeting = "Howdy"'));
    await waitFor('the second revision', () => (/revision 2 live in/.test(dev.stdout()) ? true : undefined), 60_000);
    assert.deepEqual((await runtime.client.invoke('hello-dev', '/greet', { name: 'Ada' })).body, { message: 'Howdy, Ada!' });

    writeFileSync(file, readFileSync(file, 'utf8').replace('def setup(self):', 'def setup(self)'));
    await waitFor('the failed deploy', () => (/revision 2 keeps serving/.test(dev.stdout()) ? true : undefined), 60_000);
    assert.match(dev.stderr(), /kiln: deploy failed: .*hello\.py:\d+: /);
    assert.deepEqual((await runtime.client.invoke('hello-dev', '/greet', { name: 'Ada' })).body, { message: 'Howdy, Ada!' });
    assert.deepEqual((await runtime.client.listApps()).map((app) => app.name), ['hello-dev'], 'the real app is never touched');

    const output = await dev.stop();
    assert.equal(output.status, 130);
    assert.match(output.stdout, /Deleted the dev copy\./);
    assert.deepEqual(await runtime.client.listApps(), []);
  });

  it('deletes the dev copy when Ctrl-C comes during its first deploy', async () => {
    const dev = spawnCli(['dev', path.join(folder, 'hello.py'), '--name', 'early-dev'], { KILN_HOME: runtime.dataDir }, folder);
    await waitFor('the first deploy to begin', () => (/deploying…/.test(dev.stdout()) ? true : undefined), 60_000);
    const output = await dev.stop();
    assert.equal(output.status, 130);
    assert.match(output.stdout, /Stopping: deleting the dev copy…\n(Deleted the dev copy|Stopped)\.\n$/);
    assert.doesNotMatch(output.stdout, /Watching/, 'a stopped loop watches nothing');
    assert.deepEqual(await runtime.client.listApps(), []);
  });

  it('asks which class when the file has several, and exits 2', async () => {
    const dev = spawnCli(['dev', path.join(ROOT, 'test', 'fixtures', 'apps', 'two_apps.py')], { KILN_HOME: runtime.dataDir });
    const status = await dev.exited();
    assert.equal(status, 2);
    assert.match(dev.stderr(), /two_apps\.py defines First, Second; choose one as .*two_apps\.py::First/);
  });
});

interface CliRun {
  stdout(): string;
  stderr(): string;
  /** Ctrl-C, then everything it said and its exit status. */
  stop(): Promise<{ stdout: string; stderr: string; status: number | null }>;
  /** Its exit status, once it exits by itself. */
  exited(): Promise<number | null>;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): CliRun {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
    cwd, env: { ...process.env, KILN_URL: '', KILN_TOKEN: '', NO_COLOR: '1', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const closed = new Promise<number | null>((resolve) => child.on('close', (status, signal) => resolve(status ?? (signal ? 128 + os.constants.signals[signal] : null))));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGINT');
      const status = await closed;
      return { stdout, stderr, status };
    },
    exited: () => closed,
  };
}
