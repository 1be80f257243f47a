/**
 * Hot reload: from saving examples/hello.py (a changed greeting written to disk) to the new
 * revision live, and to its first response with the new greeting, through the same DevLoop
 * `kiln dev` and the editor run, against a real runtime. Beside it, the baseline: the same
 * change deployed by hand through the client (no watching), then called.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { collectSources, DevLoop, type DevLoopEvent, watchFilesOnDisk } from '../../src/client';
import { startRuntime } from '../support/runtime';
import type { Resources } from './resources';
import { summarize, type Summary } from './stats';
import { ms, ratio, type Table, verdict } from './table';

const ROOT = path.resolve(__dirname, '..', '..');
const HELLO = path.join(ROOT, 'examples', 'hello.py');

/** The target for save to live on examples/hello.py. */
export const DEV_MODE_TARGET_MS = 1000;

export interface DevModeOptions {
  python: string;
  runs: number;
}

export interface DevModeResults {
  python: string;
  runs: number;
  /** File written -> the new revision live. */
  saveToLive: Summary;
  /** File written -> the first response that has the new greeting. */
  saveToResponse: Summary;
  /** Baseline: client.deploy of the changed file -> the first response. */
  deployByHand: Summary;
}

export async function runDevModeBench(options: DevModeOptions, resources: Resources): Promise<DevModeResults> {
  const dataDir = resources.tempDir('kiln-bench-dev-');
  const folder = resources.tempDir('kiln-bench-dev-app-');
  const file = path.join(folder.path, 'hello.py');
  const original = readFileSync(HELLO, 'utf8');
  const withGreeting = (greeting: string) => original.replace('self.greeting = "Hello"', `self.greeting = "${greeting}"`);
  writeFileSync(file, original);
  const runtime = await startRuntime({ dataDir: dataDir.path, args: ['--python', options.python] });
  const held = resources.process('kiln runtime', runtime.child);
  const client = runtime.client;
  let waiting: ((event: DevLoopEvent) => void) | undefined;
  const loop = new DevLoop({
    entryFile: file, name: 'hello-dev', connect: async () => client, existingClient: async () => client, watch: watchFilesOnDisk,
    onEvent: (event) => waiting?.(event),
  });
  const nextOutcome = () => new Promise<DevLoopEvent>((resolve) => {
    waiting = (event) => { if (event.type === 'live' || event.type === 'failed') resolve(event); };
  });
  const saveToLive: number[] = [];
  const saveToResponse: number[] = [];
  const byHand: number[] = [];
  try {
    const first = nextOutcome();
    await loop.start();
    const started = await first;
    if (started.type !== 'live') throw new Error(`the dev copy did not deploy: ${JSON.stringify(started)}`);
    // One save before the timed ones, so each run finds the same warm caches.
    for (let run = -1; run < options.runs; run++) {
      const greeting = `Hello ${run + 2}`;
      const outcome = nextOutcome();
      const saved = performance.now();
      writeFileSync(file, withGreeting(greeting));
      const event = await outcome;
      const live = performance.now();
      if (event.type !== 'live') throw new Error(`a save failed to deploy: ${JSON.stringify(event)}`);
      const reply = await client.invoke('hello-dev', '/greet', { name: 'bench' });
      const answered = performance.now();
      if (JSON.stringify(reply.body) !== JSON.stringify({ message: `${greeting}, bench!` })) throw new Error(`the new revision answered ${JSON.stringify(reply.body)}`);
      if (run < 0) continue;
      saveToLive.push(live - saved);
      saveToResponse.push(answered - saved);
    }
    await loop.stop();
    for (let run = -1; run < options.runs; run++) {
      const greeting = `Hand ${run + 2}`;
      writeFileSync(file, withGreeting(greeting));
      const started = performance.now();
      await client.deploy({ ...collectSources(file), name: 'hello-hand' });
      const reply = await client.invoke('hello-hand', '/greet', { name: 'bench' });
      const answered = performance.now();
      if (JSON.stringify(reply.body) !== JSON.stringify({ message: `${greeting}, bench!` })) throw new Error(`the hand deploy answered ${JSON.stringify(reply.body)}`);
      if (run >= 0) byHand.push(answered - started);
    }
  } finally {
    await loop.stop().catch(() => undefined);
    await held.release();
    await dataDir.release();
    await folder.release();
  }
  return {
    python: options.python,
    runs: options.runs,
    saveToLive: summarize(saveToLive),
    saveToResponse: summarize(saveToResponse),
    deployByHand: summarize(byHand),
  };
}

export function devModeTable(results: DevModeResults): Table {
  const base = results.deployByHand.medianMs;
  const row = (name: string, summary: Summary, target: boolean) => [
    name, ms(summary.medianMs), ms(summary.minMs), ms(summary.maxMs), ratio(summary.medianMs / base),
    target ? `< ${DEV_MODE_TARGET_MS}` : '', target ? verdict(summary.medianMs < DEV_MODE_TARGET_MS) : '', String(summary.samples),
  ];
  return {
    title: `Hot reload: a save of examples/hello.py (Python ${results.python}, ${results.runs} saves after one warm-up)`,
    head: ['measurement', 'median ms', 'min ms', 'max ms', 'vs by hand', 'target ms', 'met', 'runs'],
    rows: [
      row('kiln dev: save -> new revision live', results.saveToLive, true),
      row('kiln dev: save -> first new response', results.saveToResponse, false),
      row('baseline: client.deploy -> first response', results.deployByHand, false),
    ],
    notes: [
      'A save is the file written to disk; the dev loop notices it through a folder watch (as `kiln dev` does; the editor uses its save event),',
      'collects the app\'s local sources, and deploys the dev copy as a new revision; the baseline deploys the same change by hand, unwatched.',
    ],
  };
}
