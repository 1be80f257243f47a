/**
 * The `kiln` verbs end to end: a real runtime (started with the launcher, on a free port, in a
 * temp data directory) with real Python workers, driven by the built `node dist/cli.js`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureRuntime, isProcessAlive, KilnClient, type RuntimeHandle } from '../../src/client';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cli.js');
const apps = 'test/fixtures/apps';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let env: NodeJS.ProcessEnv;

/** Runs the CLI; `until` may signal it once its output shows something. */
function kiln(args: string[], until?: { stdout: RegExp; signal: NodeJS.Signals; then?: () => Promise<unknown> }): Promise<Run> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, env });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (until && !signalled && until.stdout.test(stdout)) {
      signalled = true;
      void (until.then?.() ?? Promise.resolve()).then(() => child.kill(until.signal));
    }
  });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

/** Fails with everything the CLI said, so a broken verb explains itself. */
function assertExit(run: Run, status: number): void {
  assert.equal(run.status, status, `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
}

describe('kiln against a real runtime', () => {
  let home: string;
  let runtime: RuntimeHandle;

  before(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'kiln-cli-'));
    env = { ...process.env, KILN_HOME: home, NO_COLOR: '1' };
    delete env.KILN_URL;
    delete env.KILN_TOKEN;
    runtime = await ensureRuntime({ runtimeScript: path.join(root, 'dist', 'runtime.js'), dataDir: home, port: 0 });
  });

  after(async () => {
    if (runtime && isProcessAlive(runtime.pid)) {
      await new KilnClient(runtime).shutdown().catch(() => process.kill(runtime.pid, 'SIGKILL'));
      for (let i = 0; i < 100 && isProcessAlive(runtime.pid); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('finds the running runtime on a second `runtime start --detach`', async () => {
    assert.equal(runtime.started, true);
    const human = await kiln(['runtime', 'start', '--detach']);
    assertExit(human, 0);
    assert.equal(human.stdout, `Kiln runtime already running at ${runtime.url} (pid ${runtime.pid})\n`);
    const json = await kiln(['runtime', 'start', '--detach', '--json']);
    assertExit(json, 0);
    const parsed = JSON.parse(json.stdout);
    assert.deepEqual({ url: parsed.url, pid: parsed.pid, started: parsed.started }, { url: runtime.url, pid: runtime.pid, started: false });
    assert.equal(parsed.token, undefined);
  });

  it('reports the runtime with `runtime status --json`', async () => {
    const run = await kiln(['runtime', 'status', '--json']);
    assertExit(run, 0);
    const status = JSON.parse(run.stdout);
    assert.equal(status.running, true);
    assert.equal(status.url, runtime.url);
    assert.equal(status.pid, runtime.pid);
    assert.equal(status.dataDir, home);
    assert.ok(Array.isArray(status.gpus));
    assert.equal(typeof status.python.path, 'string');
    assert.ok(!run.stdout.includes(runtime.token));
  });

  it('deploys with one progress line per step and exits 0', async () => {
    const run = await kiln(['deploy', `${apps}/cli/app.py`]);
    assertExit(run, 0);
    const lines = run.stdout.split('\n');
    assert.match(lines[0]!, /^Deploying test\/fixtures\/apps\/cli\/app\.py \(deploy [\w-]+\)$/);
    assert.ok(lines.filter((line) => line.startsWith('→ ')).length >= 3, run.stdout);
    assert.ok(lines.includes('    greeter is ready'), run.stdout);
    assert.ok(lines.some((line) => /^✓ Deployed cli-greeter revision 1 in /.test(line)), run.stdout);
    assert.ok(lines.includes(`  POST ${runtime.url}/cli-greeter`), run.stdout);
  });

  it('shows the first and last lines of a setup() that prints 10 MB, and says where the rest is', async () => {
    const run = await kiln(['deploy', 'test/fixtures/runtime/noisy_setup.py']);
    assertExit(run, 0);
    assert.ok(run.stdout.length < 100_000, `the deploy printed ${run.stdout.length} characters`);
    assert.match(run.stdout, / 000000\n/, 'the first lines are shown as they come');
    assert.match(run.stdout, /… \d+ more lines of setup\(\) output, not shown here \(all of them: kiln logs noisy-setup --runner noisy-setup-r1-\w+\)/);
    assert.match(run.stdout, / 099999\n.*setup finished: the last line\n/s, 'the last lines are shown');
    assertExit(await kiln(['delete', 'noisy-setup']), 0);
  });

  it('fails a deploy with the file and line, and exits 1', async () => {
    const run = await kiln(['deploy', `${apps}/syntax_error.py`]);
    assertExit(run, 1);
    assert.match(run.stderr, /^kiln: deploy failed: test\/fixtures\/apps\/syntax_error\.py:6: /m);
  });

  it('cancels a deploy on Ctrl-C, exits 130 and leaves nothing deployed', async () => {
    const run = await kiln(['deploy', `${apps}/cli/slow_setup.py`], { stdout: /loading a large model/, signal: 'SIGINT' });
    assertExit(run, 130);
    assert.match(run.stdout, /Cancelling the deploy/);
    assert.match(run.stdout, /: cancelled after /);
    assert.match(run.stderr, /deploy cancelled/);
    const list = JSON.parse((await kiln(['list', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(list.map((app) => app.name), ['cli-greeter']);
  });

  it('lists the apps in a table', async () => {
    const run = await kiln(['list']);
    assertExit(run, 0);
    const [header, row] = run.stdout.split('\n');
    assert.match(header!, /^NAME +STATE +REV +MACHINE +RUNNERS +COST +URL$/);
    assert.match(row!, new RegExp(`^cli-greeter +live +1 +XS +\\d+ +\\$[\\d.]+ +${runtime.url}/cli-greeter$`));
  });

  it('invokes an endpoint and prints its JSON body', async () => {
    const run = await kiln(['invoke', 'cli-greeter', '/', '--data', '{"name": "Ada"}']);
    assertExit(run, 0);
    assert.deepEqual(JSON.parse(run.stdout), { message: 'Hello, Ada.' });
  });

  it('prints a 422 detail on stderr and exits 1 for bad input', async () => {
    const run = await kiln(['invoke', 'cli-greeter', '--data', '{"excited": true}']);
    assertExit(run, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^kiln: 422 Unprocessable Entity: body\.name: /);
  });

  it('goes through the queue with --queue, showing the status', async () => {
    const run = await kiln(['invoke', 'cli-greeter', '/', '--queue', '-d', '{"name": "Queue", "excited": true}']);
    assertExit(run, 0);
    assert.deepEqual(JSON.parse(run.stdout), { message: 'Hello, Queue!' });
    assert.match(run.stderr, /^Queued request [\w-]+\n/);
    assert.match(run.stderr, /Completed/);
  });

  it("shows the app's print output in its logs", async () => {
    const run = await kiln(['logs', 'cli-greeter']);
    assertExit(run, 0);
    assert.match(run.stdout, /^\d\d:\d\d:\d\d\.\d{3} cli-greeter-\S+ +stdout greeting Ada$/m);
    const json = await kiln(['logs', 'cli-greeter', '--search', 'Queue', '--json']);
    assertExit(json, 0);
    const records = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(records.map((record) => record.text), ['greeting Queue']);
  });

  it('follows the logs with -f', async () => {
    const client = new KilnClient(runtime);
    const run = await kiln(['logs', 'cli-greeter', '-f', '--tail', '1'], {
      stdout: /\n/,
      signal: 'SIGINT',
      then: async () => {
        await client.invoke('cli-greeter', '/', { name: 'Follower' });
        await new Promise((resolve) => setTimeout(resolve, 500));
      },
    });
    assert.match(run.stdout, /stdout greeting Follower$/m);
  });

  it('sets, lists and unsets secrets without ever printing a value', async () => {
    const value = 'sk-live-9f8e7d6c5b4a';
    const set = await kiln(['secrets', 'set', `API_KEY=${value}`, 'HF_TOKEN=hf_other']);
    assertExit(set, 0);
    assert.equal(set.stdout, '✓ Set API_KEY\n✓ Set HF_TOKEN\n');
    const list = await kiln(['secrets', 'list']);
    assertExit(list, 0);
    assert.match(list.stdout, /^NAME +UPDATED\nAPI_KEY +just now\nHF_TOKEN +just now\n$/);
    const json = await kiln(['secrets', 'list', '--json']);
    assert.deepEqual(JSON.parse(json.stdout).map((secret: { name: string }) => secret.name), ['API_KEY', 'HF_TOKEN']);
    const unset = await kiln(['secrets', 'unset', 'API_KEY']);
    assertExit(unset, 0);
    assert.equal(unset.stdout, '✓ Removed API_KEY\n');
    const after = await kiln(['secrets', 'list', '--json']);
    assert.deepEqual(JSON.parse(after.stdout).map((secret: { name: string }) => secret.name), ['HF_TOKEN']);
    for (const run of [set, list, json, unset, after]) assert.ok(!`${run.stdout}${run.stderr}`.includes(value));
  });

  it('changes scale settings, marks them, and resets them', async () => {
    const run = await kiln(['scale', 'cli-greeter', '--min', '1', '--keep-alive', '120']);
    assertExit(run, 0);
    assert.match(run.stdout, /^ {2}min_concurrency +1 +set with kiln scale$/m);
    assert.match(run.stdout, /^ {2}keep_alive +120 s \(2 min\) +set with kiln scale$/m);
    const reset = await kiln(['scale', 'cli-greeter', '--reset', '--json']);
    assertExit(reset, 0);
    const app = JSON.parse(reset.stdout);
    assert.deepEqual(app.scaleOverrides, {});
    assert.equal(app.scale.keepAlive, 60);
    assertExit(await kiln(['scale', 'cli-greeter', '--min', '3', '--max', '2']), 2);
  });

  it('deletes an app', async () => {
    const run = await kiln(['delete', 'cli-greeter']);
    assertExit(run, 0);
    assert.equal(run.stdout, '✓ Deleted cli-greeter\n');
    assert.deepEqual(JSON.parse((await kiln(['list', '--json'])).stdout), []);
    const again = await kiln(['invoke', 'cli-greeter', '-d', '{"name": "x"}']);
    assertExit(again, 1);
    assert.match(again.stderr, /^kiln: 404 /);
  });

  it('stops the runtime, after which verbs exit 3 and say how to start one', async () => {
    const stop = await kiln(['runtime', 'stop']);
    assertExit(stop, 0);
    assert.equal(stop.stdout, `✓ Stopped the Kiln runtime at ${runtime.url} (pid ${runtime.pid})\n`);
    assert.equal(isProcessAlive(runtime.pid), false);
    const status = await kiln(['runtime', 'status', '--json']);
    assertExit(status, 3);
    assert.deepEqual(JSON.parse(status.stdout), { running: false, dataDir: home });
    const list = await kiln(['list']);
    assertExit(list, 3);
    assert.match(list.stderr, /start one with `kiln runtime start`/);
  });

  it('starts a runtime with its limits and start mode given to `runtime start`, and refuses a bad one with the runtime\'s reason', async () => {
    const refused = await kiln(['runtime', 'start', '--detach', '--port', '0', '--max-json-depth', '9999']);
    assertExit(refused, 1);
    assert.match(refused.stderr, /--max-json-depth must be a whole number from 1 to 500, not 9999/);

    const start = await kiln(['runtime', 'start', '--detach', '--json', '--port', '0', '--no-templates', '--max-json-depth', '3']);
    assertExit(start, 0);
    const started = JSON.parse(start.stdout) as { url: string; pid: number };
    const token = (JSON.parse(readFileSync(path.join(home, 'runtime.json'), 'utf8')) as { token: string }).token;
    const client = new KilnClient({ url: started.url, token });
    try {
      assert.equal((await client.health()).templates, false);
      const deep = await fetch(`${started.url}/any-app`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"a": [[[[1]]]]}',
      });
      assert.equal(deep.status, 400);
      assert.match(((await deep.json()) as { detail: string }).detail, /more than 3 levels deep/);
    } finally {
      assertExit(await kiln(['runtime', 'stop']), 0);
    }
  });
});
