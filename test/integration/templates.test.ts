/**
 * Runners forked from their revision's warm template, end to end: a real runtime, real Python
 * templates and runners in the sandbox. What must stay true: the fallback to fresh processes
 * says why, a template that dies is replaced, secrets set after a deploy reach new runners, and
 * a snapshot after setup() keeps each runner's random numbers its own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AppDetail, RunnerInfo } from '../../src/shared/api';
import { deployFile, deployOk, EXAMPLES, FIXTURE_APPS, processAlive, startRuntime, type TestRuntime, waitFor } from '../support/runtime';

/** The host pid of a template process: found by its command line, as `ps` would. */
function templatePid(appFile: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let command: string[];
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const mode = command.indexOf('--mode');
    if (command[0] !== 'bwrap' && command[mode + 1] === 'template' && command.includes(appFile)) return Number(entry);
  }
  return undefined;
}

/** A copy of a fixture app with lines added to its class body, in a folder of its own. */
function variant(fixture: string, classLine: string, lines: string[]): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'kiln-variant-'));
  const source = readFileSync(path.join(FIXTURE_APPS, fixture), 'utf8').replace(classLine, [classLine, ...lines.map((line) => `    ${line}`)].join('\n'));
  const file = path.join(folder, fixture);
  writeFileSync(file, source);
  return file;
}

const liveRunners = (app: AppDetail): RunnerInfo[] => app.runnerDetails.filter((runner) => runner.state === 'idle' || runner.state === 'busy');

describe('runners forked from a warm template', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime(); });
  after(async () => { await runtime.dispose(); });

  it('forks the first runner and every later one, each a real process of its own', async () => {
    const app = await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
    assert.deepEqual(app.starts, { mode: 'fork', reason: null });
    const [first] = app.runnerDetails;
    assert.equal(first!.start, 'fork');
    assert.ok(first!.pid && processAlive(first!.pid), 'the runner\'s pid is the host\'s');
    assert.equal((await runtime.client.health()).sandbox, true, 'bubblewrap sandboxes runners on this machine (.ci/run installs it)');
    assert.match(readFileSync(`/proc/${first!.pid}/status`, 'utf8'), /^NSpid:\s+\d+\s+\d+$/m, 'a process in the sandbox\'s namespace');

    process.kill(first!.pid!, 'SIGKILL');
    await waitFor('the killed runner to go', async () => ((await runtime.client.getApp('hello')).runnerDetails.some((runner) => runner.id === first!.id) ? undefined : true));
    const response = await runtime.client.invoke('hello', '/greet', { name: 'again' });
    assert.equal(response.status, 200);
    assert.match(response.headers['x-kiln-cold-start-ms']!, /^\d+$/, 'the request waited for a new runner');
    const [second] = (await runtime.client.getApp('hello')).runnerDetails;
    assert.notEqual(second!.id, first!.id);
    assert.equal(second!.start, 'fork');
  });

  it('starts runners afresh when the app\'s imports start a thread, and says why in the deploy and the logs', async () => {
    const result = await deployFile(runtime.client, path.join(FIXTURE_APPS, 'thread_at_import.py'));
    assert.ok(result.app, JSON.stringify(result.failure));
    const reason = 'Runners start as fresh processes: the app\'s imports started thread poller.';
    assert.ok(result.events.some((event) => event.type === 'warning' && event.message === reason), JSON.stringify(result.events));
    assert.deepEqual(result.app.starts, { mode: 'spawn', reason: 'the app\'s imports started thread poller' });
    assert.equal(result.app.runnerDetails[0]!.start, 'spawn');
    assert.equal((await runtime.client.logs('thread-at-import', { search: 'fresh processes' }))[0]?.text, reason);
    assert.equal((await runtime.client.invoke('thread-at-import', '/ping', {})).status, 200);
  });

  it('replaces a template that dies; its runners end with it and the next ones are forked again', async () => {
    const file = path.join(EXAMPLES, 'hello.py');
    const app = await runtime.client.getApp('hello');
    const revisionFile = path.join(runtime.dataDir, 'apps', 'hello', 'revisions', String(app.revision), 'src', 'hello.py');
    const pid = templatePid(revisionFile);
    assert.ok(pid, `a template process runs ${revisionFile} (${file})`);
    const runner = app.runnerDetails[0]!;
    process.kill(pid, 'SIGKILL');
    await waitFor('the runners to end with their template', () => (processAlive(runner.pid!) ? undefined : true));
    const logs = await waitFor('the template\'s end in the logs', async () => {
      const found = await runtime.client.logs('hello', { search: 'Starting a new one' });
      return found.length ? found : undefined;
    });
    assert.match(logs[0]!.text, /^The template was killed by SIGKILL \(out of memory, or killed by hand\); runners forked from it ended with it\. Starting a new one;/);
    const replacement = await waitFor('a new template', () => templatePid(revisionFile));
    assert.notEqual(replacement, pid);
    await waitFor('the new template to take forks', async () => ((await runtime.client.getApp('hello')).starts.mode === 'fork' ? true : undefined));
    assert.equal((await runtime.client.invoke('hello', '/greet', { name: 'after' })).status, 200);
    const started = liveRunners(await runtime.client.getApp('hello'));
    assert.deepEqual(started.map((candidate) => candidate.start), ['fork']);
  });

  it('gives a runner forked after a secret changed the new value', async () => {
    await runtime.client.setSecret('HF_TOKEN', 'hf_first_aaaaaaaaaaaaaaaaaaaa');
    await runtime.client.setSecret('API_KEY', 'key-1');
    await deployOk(runtime.client, path.join(EXAMPLES, 'secure_model.py'));
    const before = await runtime.client.invoke('secure-model', '/info', {});
    assert.equal((before.body as { token_length: number }).token_length, 'hf_first_aaaaaaaaaaaaaaaaaaaa'.length);
    await runtime.client.scale('secure-model', { keepAlive: 0 });
    await waitFor('the idle runner to retire', async () => ((await runtime.client.getApp('secure-model')).runners === 0 ? true : undefined));
    await runtime.client.setSecret('HF_TOKEN', 'hf_second_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
    const after = await runtime.client.invoke('secure-model', '/info', {});
    assert.equal((after.body as { token_length: number }).token_length, 'hf_second_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'.length);
    assert.equal(after.headers['x-kiln-cold-start-ms'] !== undefined, true, 'a new runner, forked from the same template');
  });
});

describe('a snapshot after setup()', () => {
  let runtime: TestRuntime;
  const variants: string[] = [];
  before(async () => { runtime = await startRuntime(); });
  after(async () => {
    await runtime.dispose();
    variants.forEach((file) => rmSync(path.dirname(file), { recursive: true, force: true }));
  });

  it('runs setup() once, in the template, and runners start from it with their own random numbers', async () => {
    const result = await deployFile(runtime.client, path.join(FIXTURE_APPS, 'snapshot_app.py'), { name: 'snap' });
    assert.ok(result.app, JSON.stringify(result.failure));
    const steps = [...new Set(result.events.flatMap((event) => (event.type === 'step' ? [event.step] : [])))];
    assert.deepEqual(steps, ['validate', 'environment', 'inspect', 'setup', 'starting-runner', 'live']);
    assert.ok(result.events.some((event) => event.type === 'log' && /^setup ran in pid \d+$/.test(event.text)), 'setup()\'s output streams in the deploy');
    assert.deepEqual(result.app.starts, { mode: 'snapshot', reason: null });
    await runtime.client.scale('snap', { minConcurrency: 2 });
    await waitFor('a second runner forked from the snapshot', async () => (liveRunners(await runtime.client.getApp('snap')).length === 2 ? true : undefined));
    // Two at once, each holding its runner until both are held: one request on each.
    const gate = path.join(runtime.dataDir, 'volumes', 'snapshot-gate');
    const replies = [1, 2].map(() => runtime.client.invoke('snap', '/state', { gate: '/gate' }));
    await waitFor('both runners held', () => (readdirSync(gate).filter((name) => name.startsWith('held-')).length === 2 ? true : undefined));
    writeFileSync(path.join(gate, 'open'), '');
    const states = (await Promise.all(replies)).map((response) => response.body as Record<string, unknown>);
    assert.equal(new Set(states.map((state) => state.runner)).size, 2);
    assert.notEqual(states[0]!.pid, states[1]!.pid);
    assert.notEqual(states[0]!.random, states[1]!.random, 'each runner draws its own numbers');
    assert.ok(states.every((state) => state.setup_pid !== state.pid), 'setup() ran in the template, not in the runner');
    assert.deepEqual(states[0]!.model, states[1]!.model);
    assert.equal((await runtime.client.logs('snap', { search: 'setup ran in pid' })).length, 1, 'once, however many runners');
    const detail = await runtime.client.getApp('snap');
    assert.ok(detail.runnerDetails.every((runner) => runner.start === 'snapshot'));
  });

  it('falls back to a setup() per runner when setup() starts a thread, says why, and the thread lives in each runner', async () => {
    const file = variant('snapshot_app.py', '    snapshot_after_setup = True', ['env = {"THREAD_IN_SETUP": "1"}']);
    variants.push(file);
    const result = await deployFile(runtime.client, file, { name: 'snap-thread' });
    assert.ok(result.app, JSON.stringify(result.failure));
    const reason = 'no snapshot after setup(): setup() started thread heartbeat';
    assert.deepEqual(result.app.starts, { mode: 'fork', reason });
    assert.ok(result.events.some((event) => event.type === 'warning' && event.message === `Runners are forked from the template; ${reason}.`));
    // One runner kept warm, asked twice: its heartbeat thread, started by its own setup(), runs.
    await runtime.client.scale('snap-thread', { keepAlive: 60 });
    type State = { beats: number; pid: number; setup_pid: number; runner: string };
    const state = (await runtime.client.invoke('snap-thread', '/state', {})).body as State;
    assert.equal(state.setup_pid, state.pid, 'the runner ran setup() itself');
    const later = await waitFor('the runner\'s own heartbeat thread to run', async () => {
      const next = (await runtime.client.invoke('snap-thread', '/state', {})).body as State;
      return next.beats > state.beats ? next : undefined;
    });
    assert.equal(later.runner, state.runner);
  });

  it('fails the deploy at setup, with file and line, when setup() raises in the template', async () => {
    const file = variant('snapshot_app.py', '    snapshot_after_setup = True', ['env = {"FAIL_IN_SETUP": "1"}']);
    variants.push(file);
    const result = await deployFile(runtime.client, file, { name: 'snap-fail' });
    assert.equal(result.failure?.step, 'setup');
    assert.equal(result.failure.error.message, 'setup() failed: RuntimeError: no weights here');
    assert.equal(result.failure.error.file, 'snapshot_app.py');
    assert.equal(typeof result.failure.error.line, 'number');
    const steps = result.events.flatMap((event) => (event.type === 'step' ? [event.step] : []));
    assert.ok(!steps.includes('starting-runner'), 'no runner was tried after the template\'s setup() failed');
    assert.equal(result.events.filter((event) => event.type === 'log' && event.text.startsWith('setup ran in pid')).length, 1, 'setup() ran once');
  });
});

describe('a runtime with templates off', () => {
  let runtime: TestRuntime;
  before(async () => { runtime = await startRuntime({ args: ['--no-templates'] }); });
  after(async () => { await runtime.dispose(); });

  it('starts every runner as a fresh process', async () => {
    assert.equal((await runtime.client.health()).templates, false);
    const app = await deployOk(runtime.client, path.join(EXAMPLES, 'hello.py'));
    assert.deepEqual(app.starts, { mode: 'spawn', reason: null });
    assert.equal(app.runnerDetails[0]!.start, 'spawn');
    assert.equal((await runtime.client.invoke('hello', '/greet', { name: 'plain' })).status, 200);
  });
});
