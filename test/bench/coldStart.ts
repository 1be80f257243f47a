/**
 * Cold start: from a deploy through the client to the first response of examples/hello.py,
 * beside the floor of the same work in one plain Python process (import the app module,
 * instantiate, run setup, call the endpoint) with the fal compatibility package on PYTHONPATH.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { collectSources } from '../../src/client';
import type { DeployStep } from '../../src/shared/api';
import { startRuntime } from '../support/runtime';
import type { Resources } from './resources';
import { summarize, type Summary } from './stats';
import { ms, ratio, type Table } from './table';

const ROOT = path.resolve(__dirname, '..', '..');
const HELLO = path.join(ROOT, 'examples', 'hello.py');
const DIRECT_CALL = [
  'import hello',
  'app = hello.Hello(_allow_init=True)',
  'app.setup()',
  'print(app.greet(name="bench"))',
].join('; ');

export interface ColdStartOptions {
  python: string;
  runs: number;
}

export interface ColdStartResults {
  python: string;
  /** Whether the runtime sandboxed its workers (bubblewrap adds to each start). */
  sandbox: boolean;
  runs: number;
  /** Deploy request sent -> first invoke answered. */
  deployToFirstResponse: Summary;
  deploy: Summary;
  firstInvoke: Summary;
  /**
   * How long each step event lasted until the next (the last until the deploy's end), in stream
   * order; a step announced twice (validate names the app in a second event) is "validate (2)".
   */
  steps: Record<string, Summary>;
  /** `python -c` import + setup + call, spawn to exit. */
  directPython: Summary;
}

/** Runs a command to its end; resolves with its wall time in ms. */
function timedRun(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }, resources: Resources): Promise<number> {
  const started = performance.now();
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const held = resources.process('python -c', child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const elapsed = performance.now() - started;
      void held.release();
      if (code === 0 && output.includes('Hello, bench!')) resolve(elapsed);
      else reject(new Error(`${command} -c exited with code ${code}:\n${output}`));
    });
  });
}

async function directPython(options: ColdStartOptions, resources: Resources): Promise<number[]> {
  const env = { ...process.env, PYTHONPATH: path.join(ROOT, 'dist', 'python'), PYTHONDONTWRITEBYTECODE: '1' };
  const cwd = path.dirname(HELLO);
  // The first run pays for the page cache; the runtime's runs had their warm-up in the same way.
  await timedRun(options.python, ['-c', DIRECT_CALL], { cwd, env }, resources);
  const samples: number[] = [];
  for (let run = 0; run < options.runs; run++) samples.push(await timedRun(options.python, ['-c', DIRECT_CALL], { cwd, env }, resources));
  return samples;
}

export async function runColdStartBench(options: ColdStartOptions, resources: Resources): Promise<ColdStartResults> {
  const dataDir = resources.tempDir('kiln-bench-cold-');
  const runtime = await startRuntime({ dataDir: dataDir.path, args: ['--python', options.python] });
  const held = resources.process('kiln runtime', runtime.child);
  const total: number[] = [];
  const deploys: number[] = [];
  const invokes: number[] = [];
  const steps = new Map<string, number[]>();
  let sandbox = false;
  try {
    sandbox = (await runtime.client.health()).sandbox;
    const sources = collectSources(HELLO);
    // One deploy before the timed ones, so the runs compare like with like (files cached, JIT warm).
    for (let run = -1; run < options.runs; run++) {
      const name = `hello-cold-${run + 1}`;
      const marks: { step: DeployStep; at: number }[] = [];
      const started = performance.now();
      await runtime.client.deploy({ ...sources, name }, {
        onEvent: (event) => { if (event.type === 'step') marks.push({ step: event.step, at: performance.now() }); },
      });
      const deployed = performance.now();
      const reply = await runtime.client.invoke(name, '/greet', { name: 'bench' });
      const answered = performance.now();
      if (reply.status !== 200) throw new Error(`hello answered ${reply.status}: ${JSON.stringify(reply.body)}`);
      await runtime.client.deleteApp(name);
      if (run < 0) continue;
      total.push(answered - started);
      deploys.push(deployed - started);
      invokes.push(answered - deployed);
      const seen = new Map<DeployStep, number>();
      marks.forEach((mark, index) => {
        const occurrence = (seen.get(mark.step) ?? 0) + 1;
        seen.set(mark.step, occurrence);
        const key = occurrence === 1 ? mark.step : `${mark.step} (${occurrence})`;
        steps.set(key, [...(steps.get(key) ?? []), (marks[index + 1]?.at ?? deployed) - mark.at]);
      });
    }
  } finally {
    await held.release();
    await dataDir.release();
  }
  return {
    python: options.python,
    sandbox,
    runs: options.runs,
    deployToFirstResponse: summarize(total),
    deploy: summarize(deploys),
    firstInvoke: summarize(invokes),
    steps: Object.fromEntries([...steps].map(([step, samples]) => [step, summarize(samples)])),
    directPython: summarize(await directPython(options, resources)),
  };
}

export function coldStartTable(results: ColdStartResults): Table {
  const floor = results.directPython.medianMs;
  const row = (name: string, summary: Summary, vsFloor = false) =>
    [name, ms(summary.medianMs), ms(summary.minMs), ms(summary.maxMs), vsFloor ? ratio(summary.medianMs / floor) : '', String(summary.samples)];
  return {
    title: `Cold start: examples/hello.py (Python ${results.python}, sandbox ${results.sandbox ? 'on' : 'off'}, ${results.runs} runs after one warm-up)`,
    head: ['measurement', 'median ms', 'min ms', 'max ms', 'vs python -c', 'runs'],
    rows: [
      row('kiln: deploy -> first response', results.deployToFirstResponse, true),
      row('  deploy (client.deploy until done)', results.deploy),
      ...Object.entries(results.steps).map(([step, summary]) => row(`    step ${step}`, summary)),
      row('  first invoke', results.firstInvoke),
      row('floor: python -c import + setup + greet', results.directPython, true),
    ],
    notes: [
      'Each step runs from its event to the next (the last to the deploy\'s end), as the client sees the stream;',
      'the first validate probes the interpreter once (the warm-up run pays it; later deploys reuse it); inspect imports the app in a second one; setup starts the runner, a third.',
    ],
  };
}
