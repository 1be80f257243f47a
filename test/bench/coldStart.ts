/**
 * Cold starts, each beside its floor in the same run: the same work in one plain Python process
 * (import the app module, instantiate, run setup, call the endpoint). Two runtimes run side by
 * side: one forking runners from warm templates, one starting every runner afresh
 * (`--no-templates`), so the table shows what the templates buy.
 *
 *   request to a scaled-to-zero app (keep_alive=0), to the response's first byte: hello, torch
 *   deploy -> first response: hello, with each deploy step
 *   burst: 8 requests at once to the scaled-to-zero torch app (max_concurrency 8)
 *   redeploy under steady load: 4 client loops, 2 redeploys; failures and who served what
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { collectSources, type KilnClient } from '../../src/client';
import type { DeployStep } from '../../src/shared/api';
import { startRuntime, type TestRuntime, waitFor } from '../support/runtime';
import type { Resources } from './resources';
import { summarize, type Summary } from './stats';
import { count, ms, ratio, type Table, verdict } from './table';

const ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLES = path.join(ROOT, 'examples');

/** An app the bench wakes from zero, and the floor call that does the same work in one process. */
interface ColdApp {
  file: string;
  className: string;
  path: string;
  input: Record<string, unknown>;
  /** What the floor's call prints when it worked. */
  expect: string;
}

const HELLO: ColdApp = { file: 'hello.py', className: 'Hello', path: '/greet', input: { name: 'bench' }, expect: 'Hello, bench!' };
const TORCH: ColdApp = { file: 'text_to_image.py', className: 'TextToImage', path: '/generate', input: { prompt: 'bench', steps: 1 }, expect: "'backend': 'torch" };

const BURST = 8;
const REDEPLOY_LOOPS = 4;
const REDEPLOYS = 2;

export const COLD_TARGETS = {
  scaledToZeroHelloVsFloor: 0.5,
  scaledToZeroTorchVsFloor: 0.1,
  deployToFirstResponseVsFloor: 1.5,
  burstVsOneColdStart: 2,
} as const;

export interface ColdStartOptions {
  python: string;
  runs: number;
}

/** The same measurement with runners forked from templates and with fresh processes. */
interface Side {
  forked: Summary;
  fresh: Summary;
}

export interface ColdStartResults {
  python: string;
  /** Whether the runtime sandboxed its workers (bubblewrap adds to each start). */
  sandbox: boolean;
  runs: number;
  /** Whether `python` has torch: without it the torch rows are left out. */
  torch: boolean;
  floors: { hello: Summary; torch: Summary | null };
  /** Request sent -> response headers, the app scaled to zero before each. */
  scaledToZero: { hello: Side; torch: Side | null };
  /** Deploy request sent -> first invoke answered, and each step of the forked runtime's deploys. */
  deployToFirstResponse: Side & { steps: Record<string, Summary> };
  /** 8 requests sent at once to the scaled-to-zero torch app -> the last answered; runners that served them. */
  burst: { forked: Summary; fresh: Summary; runners: { forked: number; fresh: number } } | null;
  /** A warm torch runner's /generate, request to response. */
  torchWarmRequest: Summary | null;
  redeployUnderLoad: { requests: number; failed: number; byRevision: Record<string, number>; failures: string[] };
}

function floorScript(app: ColdApp): string {
  const module = path.basename(app.file, '.py');
  return [
    `import ${module}`,
    `app = ${module}.${app.className}(_allow_init=True)`,
    'app.setup()',
    `print(app.${app.path.slice(1)}(**${JSON.stringify(app.input)}))`,
  ].join('; ');
}

/** Runs `python -c` to its end; resolves with its wall time in ms. */
function timedFloor(python: string, app: ColdApp, filesDir: string, resources: Resources): Promise<number> {
  const env = {
    ...process.env, PYTHONPATH: path.join(ROOT, 'dist', 'python'), PYTHONDONTWRITEBYTECODE: '1',
    KILN_FILES_DIR: filesDir, KILN_FILES_URL: 'http://127.0.0.1/files',
  };
  const started = performance.now();
  const child = spawn(python, ['-c', floorScript(app)], { cwd: EXAMPLES, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const held = resources.process('python -c', child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const elapsed = performance.now() - started;
      void held.release();
      if (code === 0 && output.includes(app.expect)) resolve(elapsed);
      else reject(new Error(`${python} -c (${app.file}) exited with code ${code}:\n${output}`));
    });
  });
}

async function floor(python: string, app: ColdApp, runs: number, resources: Resources): Promise<Summary> {
  const files = resources.tempDir('kiln-bench-files-');
  try {
    // The first run pays for the page cache, as the runtimes' first deploys do.
    await timedFloor(python, app, files.path, resources);
    const samples: number[] = [];
    for (let run = 0; run < runs; run++) samples.push(await timedFloor(python, app, files.path, resources));
    return summarize(samples);
  } finally {
    await files.release();
  }
}

async function startBenchRuntime(options: ColdStartOptions, resources: Resources, templates: boolean): Promise<TestRuntime> {
  const dataDir = resources.tempDir(`kiln-bench-cold-${templates ? 'forked' : 'fresh'}-`);
  const runtime = await startRuntime({
    dataDir: dataDir.path,
    args: ['--python', options.python, '--max-cpu-runners', String(BURST), ...(templates ? [] : ['--no-templates'])],
  });
  const held = resources.process('kiln runtime', runtime.child);
  // Given back in reverse: the runtime stops before its folder goes.
  resources.inProcess('runtime data', async () => {
    await held.release();
    await dataDir.release();
  });
  return runtime;
}

/** Sends a request and resolves when its response's headers arrive (the first byte), then reads it all. */
async function firstByte(runtime: TestRuntime, app: string, endpoint: string, input: unknown): Promise<{ ms: number; runner: string; status: number }> {
  const started = performance.now();
  const response = await fetch(`${runtime.info.url}/${app}${endpoint}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${runtime.info.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const elapsed = performance.now() - started;
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${app}${endpoint} answered ${response.status}: ${body}`);
  return { ms: elapsed, runner: response.headers.get('x-kiln-runner-id') ?? '', status: response.status };
}

async function scaledToZero(client: KilnClient, app: string): Promise<void> {
  await waitFor(`${app} to scale to zero`, async () => ((await client.getApp(app)).runners === 0 ? true : undefined), 60_000);
}

/** Deploys an app scaled to zero (keep_alive 0) with room for a burst. */
async function deployScaledToZero(runtime: TestRuntime, app: ColdApp, name: string): Promise<void> {
  await runtime.client.deploy({ ...collectSources(path.join(EXAMPLES, app.file)), name });
  await runtime.client.scale(name, { keepAlive: 0, maxConcurrency: BURST });
  await scaledToZero(runtime.client, name);
}

async function wakeFromZero(runtime: TestRuntime, app: ColdApp, name: string, runs: number): Promise<Summary> {
  const samples: number[] = [];
  for (let run = -1; run < runs; run++) {
    await scaledToZero(runtime.client, name);
    const { ms: elapsed } = await firstByte(runtime, name, app.path, app.input);
    if (run >= 0) samples.push(elapsed);
  }
  return summarize(samples);
}

async function burst(runtime: TestRuntime, app: ColdApp, name: string, runs: number): Promise<{ summary: Summary; runners: number }> {
  const samples: number[] = [];
  let runners = 0;
  for (let run = 0; run < runs; run++) {
    await scaledToZero(runtime.client, name);
    const started = performance.now();
    const replies = await Promise.all(Array.from({ length: BURST }, () => firstByte(runtime, name, app.path, app.input)));
    samples.push(performance.now() - started);
    runners = Math.max(runners, new Set(replies.map((reply) => reply.runner)).size);
  }
  return { summary: summarize(samples), runners };
}

/** Deploys hello under fresh names, each to its first response; the forked side also times each step. */
async function deployToFirstResponse(runtime: TestRuntime, runs: number, steps?: Map<string, number[]>): Promise<Summary> {
  const sources = collectSources(path.join(EXAMPLES, HELLO.file));
  const samples: number[] = [];
  // One deploy before the timed ones, so the runs compare like with like (files cached, interpreter probed).
  for (let run = -1; run < runs; run++) {
    const name = `hello-cold-${run + 1}`;
    const marks: { step: DeployStep; at: number }[] = [];
    const started = performance.now();
    await runtime.client.deploy({ ...sources, name }, {
      onEvent: (event) => { if (event.type === 'step') marks.push({ step: event.step, at: performance.now() }); },
    });
    const deployed = performance.now();
    const reply = await runtime.client.invoke(name, HELLO.path, HELLO.input);
    if (reply.status !== 200) throw new Error(`hello answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    const answered = performance.now();
    await runtime.client.deleteApp(name);
    if (run < 0) continue;
    samples.push(answered - started);
    const seen = new Map<DeployStep, number>();
    marks.forEach((mark, index) => {
      const occurrence = (seen.get(mark.step) ?? 0) + 1;
      seen.set(mark.step, occurrence);
      const key = occurrence === 1 ? mark.step : `${mark.step} (${occurrence})`;
      steps?.set(key, [...(steps.get(key) ?? []), (marks[index + 1]?.at ?? deployed) - mark.at]);
    });
  }
  return summarize(samples);
}

/** Client loops calling hello while it is redeployed: nothing may fail, and the new revisions take over. */
async function redeployUnderLoad(runtime: TestRuntime): Promise<ColdStartResults['redeployUnderLoad']> {
  const name = 'hello-steady';
  const sources = collectSources(path.join(EXAMPLES, HELLO.file));
  await runtime.client.deploy({ ...sources, name });
  const byRevision: Record<string, number> = {};
  const failures: string[] = [];
  let requests = 0;
  let loading = true;
  const loop = async () => {
    while (loading) {
      const reply = await runtime.client.invoke(name, HELLO.path, HELLO.input).catch((error: Error) => ({ status: 0, body: error.message, headers: {} as Record<string, string> }));
      requests++;
      if (reply.status === 200) {
        const revision = reply.headers['x-kiln-revision'] ?? '?';
        byRevision[revision] = (byRevision[revision] ?? 0) + 1;
      } else {
        failures.push(`${reply.status}: ${JSON.stringify(reply.body)}`);
      }
    }
  };
  const loops = Array.from({ length: REDEPLOY_LOOPS }, loop);
  try {
    for (let redeploy = 0; redeploy < REDEPLOYS; redeploy++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await runtime.client.deploy({ ...sources, name });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  } finally {
    loading = false;
    await Promise.all(loops);
  }
  return { requests, failed: failures.length, byRevision, failures: failures.slice(0, 5) };
}

function hasTorch(python: string): boolean {
  return spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

export async function runColdStartBench(options: ColdStartOptions, resources: Resources): Promise<ColdStartResults> {
  const torch = hasTorch(options.python);
  const forked = await startBenchRuntime(options, resources, true);
  const fresh = await startBenchRuntime(options, resources, false);
  const sandbox = (await forked.client.health()).sandbox;
  const runtimes = { forked, fresh };

  const wake = async (app: ColdApp, name: string): Promise<Side> => {
    const side = {} as Side;
    for (const [which, runtime] of Object.entries(runtimes) as [keyof Side, TestRuntime][]) {
      await deployScaledToZero(runtime, app, name);
      side[which] = await wakeFromZero(runtime, app, name, options.runs);
    }
    return side;
  };

  const floors = {
    hello: await floor(options.python, HELLO, options.runs, resources),
    torch: torch ? await floor(options.python, TORCH, options.runs, resources) : null,
  };
  const scaled = { hello: await wake(HELLO, 'hello-zero'), torch: torch ? await wake(TORCH, 'torch-zero') : null };

  let burstResults: ColdStartResults['burst'] = null;
  let torchWarmRequest: Summary | null = null;
  if (torch) {
    const burstRuns = Math.max(2, Math.ceil(options.runs / 2));
    const forkedBurst = await burst(forked, TORCH, 'torch-zero', burstRuns);
    const freshBurst = await burst(fresh, TORCH, 'torch-zero', burstRuns);
    burstResults = { forked: forkedBurst.summary, fresh: freshBurst.summary, runners: { forked: forkedBurst.runners, fresh: freshBurst.runners } };
    await forked.client.scale('torch-zero', { keepAlive: 300 });
    const warm: number[] = [];
    for (let run = -1; run < options.runs * 4; run++) {
      const { ms: elapsed } = await firstByte(forked, 'torch-zero', TORCH.path, TORCH.input);
      if (run >= 0) warm.push(elapsed);
    }
    torchWarmRequest = summarize(warm);
  }

  const steps = new Map<string, number[]>();
  const deploys: Side & { steps: Record<string, Summary> } = {
    forked: await deployToFirstResponse(forked, options.runs, steps),
    fresh: await deployToFirstResponse(fresh, options.runs),
    steps: {},
  };
  deploys.steps = Object.fromEntries([...steps].map(([step, samples]) => [step, summarize(samples)]));

  return {
    python: options.python,
    sandbox,
    runs: options.runs,
    torch,
    floors,
    scaledToZero: scaled,
    deployToFirstResponse: deploys,
    burst: burstResults,
    torchWarmRequest,
    redeployUnderLoad: await redeployUnderLoad(forked),
  };
}

export function coldStartTables(results: ColdStartResults): Table[] {
  const row = (name: string, summary: Summary | null | undefined, base: number | null, target?: number) => {
    const times = summary && base ? summary.medianMs / base : null;
    return [name, ms(summary?.medianMs), ms(summary?.minMs), ms(summary?.maxMs), base ? ratio(times) : '',
      target === undefined ? '' : `≤ ${target}x`, target === undefined || times === null ? '' : verdict(times <= target)];
  };
  const { floors, scaledToZero: zero, deployToFirstResponse: deploy, burst } = results;
  const hello = floors.hello.medianMs;
  const torch = floors.torch?.medianMs ?? null;
  const rows = [
    row('floor: python -c import hello + setup + call', floors.hello, hello),
    row('scaled to zero -> first byte, hello, forked', zero.hello.forked, hello, COLD_TARGETS.scaledToZeroHelloVsFloor),
    row('  the same, fresh processes (--no-templates)', zero.hello.fresh, hello),
    row('deploy -> first response, hello, forked', deploy.forked, hello, COLD_TARGETS.deployToFirstResponseVsFloor),
    ...Object.entries(deploy.steps).map(([step, summary]) => row(`    step ${step}`, summary, null)),
    row('  the same, fresh processes (--no-templates)', deploy.fresh, hello),
  ];
  if (floors.torch && zero.torch && burst) {
    const oneColdStart = zero.torch.forked.medianMs;
    rows.push(
      row('floor: python -c import torch + text_to_image + setup + call', floors.torch, torch),
      row('scaled to zero -> first byte, torch app, forked', zero.torch.forked, torch, COLD_TARGETS.scaledToZeroTorchVsFloor),
      row('  the same, fresh processes (--no-templates)', zero.torch.fresh, torch),
      row(`burst: ${BURST} at once to the scaled-to-zero torch app, forked (vs one forked cold start)`, burst.forked, oneColdStart, COLD_TARGETS.burstVsOneColdStart),
      row('  the same, fresh processes (vs one fresh cold start)', burst.fresh, zero.torch.fresh.medianMs),
      row('torch app, warm runner: /generate', results.torchWarmRequest, null),
    );
  }
  const { redeployUnderLoad: steady } = results;
  return [
    {
      title: `Cold start (Python ${results.python}${results.torch ? '' : ', no torch: torch rows left out'}, sandbox ${results.sandbox ? 'on' : 'off'}, ${results.runs} runs after one warm-up)`,
      head: ['measurement', 'median ms', 'min ms', 'max ms', 'vs floor', 'target', 'met'],
      rows,
      notes: [
        '"forked": runners are forked from the revision\'s warm template; "fresh": a runtime started with --no-templates, every runner a new Python.',
        'First byte: the response\'s headers, as fetch sees them. Scaled to zero: keep_alive 0, and no runner left before each request.',
        burst ? `Burst: ${BURST} requests at once, max_concurrency ${BURST}, until the last answer; runners that served them: forked ${burst.runners.forked}, fresh ${burst.runners.fresh}.` : '',
        burst && results.torchWarmRequest
          ? `The burst's own work, ${BURST} warm /generate calls on ${os.cpus().length} cores, takes at least ${ms(BURST * results.torchWarmRequest.medianMs / os.cpus().length)} ms before any start.`
          : '',
      ].filter(Boolean),
    },
    {
      title: `Redeploy under steady load: ${REDEPLOY_LOOPS} client loops calling hello, ${REDEPLOYS} redeploys`,
      head: ['requests', 'failed', ...Object.keys(steady.byRevision).map((revision) => `served by r${revision}`)],
      rows: [[count(steady.requests), count(steady.failed), ...Object.values(steady.byRevision).map(count)]],
      notes: steady.failures.length ? steady.failures.map((failure) => `failure: ${failure}`) : ['target: 0 failed'],
    },
  ];
}
