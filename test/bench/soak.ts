/**
 * Soak: the runtime under steady load for a bounded time (60 s by default), its memory and its
 * runners' sampled as it goes. Memory that keeps growing under a load that does not is a leak:
 * the table shows resident memory at the start, in between and at the end, and the trend of
 * the second half (a Theil-Sen slope, after warm-up), beside the request count.
 */
import path from 'node:path';
import { processTree, rssMiB } from '../support/processes';
import { deployOk, startRuntime } from '../support/runtime';
import { BENCH_BODY, type LoadTool, runLoad } from './load';
import type { Resources } from './resources';
import { count, type Table } from './table';

const NOOP_APP = path.join(__dirname, 'fixtures', 'noop_app.py');
const APP_NAME = 'bench-noop';

export interface SoakOptions {
  python: string;
  tool: LoadTool;
  durationS: number;
  connections: number;
  /** Seconds between memory samples; the load runs in slices this long. */
  sampleEveryS: number;
}

export interface SoakSample {
  atS: number;
  requests: number;
  runtimeMiB: number;
  runnersMiB: number;
}

export interface SoakResults {
  durationS: number;
  connections: number;
  requests: number;
  errors: number;
  requestsPerSecond: number;
  samples: SoakSample[];
  /** MiB per minute over the second half of the run. */
  trend: { runtimeMiBPerMin: number; runnersMiBPerMin: number };
}

/** Growth per minute below which memory counts as flat (allocator noise on a busy host). */
export const SOAK_TARGETS = { maxGrowthMiBPerMin: 2 };

/**
 * Theil-Sen slope of y over x: the median of the slopes between every pair of points. A garbage
 * collection that falls just before one sample moves the heap by megabytes; a least-squares line
 * through a dozen samples follows that one point (an end sample most of all), the median does
 * not, while memory that really keeps growing raises most pairs' slopes alike.
 */
function slope(points: [number, number][]): number {
  const slopes: number[] = [];
  points.forEach(([x1, y1], i) => points.slice(i + 1).forEach(([x2, y2]) => { if (x2 !== x1) slopes.push((y2 - y1) / (x2 - x1)); }));
  if (slopes.length === 0) return 0;
  slopes.sort((a, b) => a - b);
  const middle = Math.floor(slopes.length / 2);
  return slopes.length % 2 ? slopes[middle]! : (slopes[middle - 1]! + slopes[middle]!) / 2;
}

export async function runSoakBench(options: SoakOptions, resources: Resources): Promise<SoakResults> {
  const dataDir = resources.tempDir('kiln-bench-soak-');
  const runtime = await startRuntime({ dataDir: dataDir.path, args: ['--python', options.python] });
  const held = resources.process('kiln runtime (soak)', runtime.child);
  try {
    await deployOk(runtime.client, NOOP_APP);
    const url = `${runtime.info.url}/${APP_NAME}/noop`;
    const sample = async (atS: number, requests: number): Promise<SoakSample> => {
      const runners = (await runtime.client.getApp(APP_NAME)).runnerDetails.flatMap((runner) => (runner.pid ? processTree(runner.pid) : []));
      return { atS, requests, runtimeMiB: rssMiB(runtime.child.pid!), runnersMiB: runners.reduce((sum, pid) => sum + rssMiB(pid), 0) };
    };
    const samples = [await sample(0, 0)];
    let requests = 0;
    let errors = 0;
    const slices = Math.max(1, Math.round(options.durationS / options.sampleEveryS));
    for (let slice = 1; slice <= slices; slice++) {
      const load = await runLoad({ url, token: runtime.info.token, body: BENCH_BODY, connections: options.connections, threads: 1, durationS: options.sampleEveryS }, options.tool, resources);
      requests += load.requests;
      errors += load.errors;
      samples.push(await sample(slice * options.sampleEveryS, requests));
    }
    const secondHalf = samples.slice(Math.floor(samples.length / 2));
    const perMinute = (pick: (entry: SoakSample) => number) => slope(secondHalf.map((entry) => [entry.atS / 60, pick(entry)]));
    const durationS = slices * options.sampleEveryS;
    return {
      durationS,
      connections: options.connections,
      requests,
      errors,
      requestsPerSecond: requests / durationS,
      samples,
      trend: { runtimeMiBPerMin: perMinute((entry) => entry.runtimeMiB), runnersMiBPerMin: perMinute((entry) => entry.runnersMiB) },
    };
  } finally {
    await held.release();
    await dataDir.release();
  }
}

export function soakTable(results: SoakResults): Table {
  const { samples } = results;
  // Start, three samples between, end: enough to see a trend without a column per sample.
  const shown = [...new Set([0, Math.round(samples.length / 4), Math.round(samples.length / 2), Math.round((3 * samples.length) / 4), samples.length - 1])]
    .filter((index) => index < samples.length).map((index) => samples[index]!);
  const mib = (value: number) => value.toFixed(1);
  const growth = (perMin: number) => `${perMin >= 0 ? '+' : ''}${perMin.toFixed(2)}`;
  const flat = (perMin: number) => (perMin <= SOAK_TARGETS.maxGrowthMiBPerMin ? 'yes' : 'NO');
  return {
    title: `Soak: ${results.durationS} s of steady load at ${results.connections} connections, ${count(results.requests)} requests (${count(results.requestsPerSecond)}/s, ${results.errors} errors)`,
    head: ['resident memory, MiB', ...shown.map((entry) => `${entry.atS} s`), 'MiB/min (2nd half)', `flat (≤ ${SOAK_TARGETS.maxGrowthMiBPerMin})`],
    rows: [
      ['runtime (node)', ...shown.map((entry) => mib(entry.runtimeMiB)), growth(results.trend.runtimeMiBPerMin), flat(results.trend.runtimeMiBPerMin)],
      ['runners (worker processes)', ...shown.map((entry) => mib(entry.runnersMiB)), growth(results.trend.runnersMiBPerMin), flat(results.trend.runnersMiBPerMin)],
      ['requests so far', ...shown.map((entry) => count(entry.requests)), '', ''],
    ],
    notes: [
      'VmRSS of the runtime, and of every process under each runner (bubblewrap and Python), sampled between load slices;',
      'the trend is the Theil-Sen slope (median of pairwise slopes) over the second half, after warm-up. Every sample is in the JSON.',
    ],
  };
}
