/**
 * `npm run bench`: every benchmark of the performance issue in one run on this machine, each
 * measurement beside its baseline. Prints the tables and writes the same numbers as JSON
 * (bench-results.json at the repository root, or --out). Targets are reported, never asserted.
 *
 *   npm run bench                          # all groups, about 3 minutes
 *   npm run bench -- --only editor         # editor | serving | cold | soak | dev, comma-separated
 *   npm run bench -- --long                # longer sampling and load runs
 *   npm run bench -- --duration 30 --out /tmp/bench.json
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { COLD_TARGETS, type ColdStartResults, coldStartTables, runColdStartBench } from './coldStart';
import { DEV_MODE_TARGET_MS, type DevModeResults, devModeTable, runDevModeBench } from './devMode';
import { EDITOR_TARGETS, type EditorResults, editorTables, runEditorBench } from './editor';
import { defaultLoadTool, type LoadTool, wrkAvailable, wrkVersion } from './load';
import { Resources } from './resources';
import { runServingBench, SERVING_TARGETS, type ServingResults, servingTables } from './serving';
import { runSoakBench, SOAK_TARGETS, type SoakResults, soakTable } from './soak';
import { renderTable, type Table } from './table';

const ROOT = path.resolve(__dirname, '..', '..');
const GROUPS = ['editor', 'serving', 'cold', 'soak', 'dev'] as const;
type Group = (typeof GROUPS)[number];

const USAGE = `Usage: npm run bench -- [options]
  --only GROUPS            editor, serving, cold, soak, dev (comma-separated; default all)
  --out PATH               where the JSON goes (default bench-results.json at the repository root)
  --long                   5x the editor sampling, 30 s / 15 s (5 rounds) load runs, 10 cold starts
  --duration S             seconds of the throughput load run (default 10)
  --latency-duration S     seconds of 1-connection load per server (default 6)
  --latency-rounds N       rounds the 1-connection load is split into, servers taking turns (default 3)
  --warmup S               seconds of load before each server's measured runs (default 2)
  --connections N          connections of the throughput run (default 16)
  --threads N              wrk threads of the throughput run (default 2)
  --cold-runs N            cold starts to time (default 5), and hot-reload saves (dev)
  --soak-duration S        seconds of the soak's steady load (default 60)
  --soak-connections N     connections of the soak's load (default 4)
  --python PATH            interpreter for the runtime's workers and the floors (default /usr/bin/python3)
  --load-tool wrk|node     load generator (default wrk when installed)`;

interface Options {
  groups: Group[];
  out: string;
  scale: number;
  durationS: number;
  latencyDurationS: number;
  latencyRounds: number;
  warmupS: number;
  connections: number;
  threads: number;
  coldRuns: number;
  soakDurationS: number;
  soakConnections: number;
  python: string;
  tool: LoadTool;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) fail(`--${name} needs a positive number, not "${text}"`);
  return value;
}

function readOptions(): Options {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        only: { type: 'string' }, out: { type: 'string' }, long: { type: 'boolean', default: false },
        duration: { type: 'string' }, 'latency-duration': { type: 'string' }, 'latency-rounds': { type: 'string' }, warmup: { type: 'string' },
        connections: { type: 'string' }, threads: { type: 'string' }, 'cold-runs': { type: 'string' },
        'soak-duration': { type: 'string' }, 'soak-connections': { type: 'string' },
        python: { type: 'string' }, 'load-tool': { type: 'string' }, help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    fail((error as Error).message);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const groups = (parsed.only ?? GROUPS.join(',')).split(',').map((group) => group.trim()).filter(Boolean);
  const unknown = groups.filter((group) => !(GROUPS as readonly string[]).includes(group));
  if (unknown.length || groups.length === 0) fail(`--only takes ${GROUPS.join(', ')}; not ${unknown.join(', ') || 'nothing'}`);
  const tool = parsed['load-tool'] ?? defaultLoadTool();
  if (tool !== 'wrk' && tool !== 'node') fail(`--load-tool is wrk or node, not ${tool}`);
  if (tool === 'wrk' && !wrkAvailable()) fail('--load-tool wrk: wrk is not installed (apt-get install wrk), or use --load-tool node');
  const long = parsed.long;
  return {
    groups: groups as Group[],
    out: path.resolve(parsed.out ?? path.join(ROOT, 'bench-results.json')),
    scale: long ? 5 : 1,
    durationS: positive('duration', parsed.duration, long ? 30 : 10),
    latencyDurationS: positive('latency-duration', parsed['latency-duration'], long ? 15 : 6),
    latencyRounds: Math.round(positive('latency-rounds', parsed['latency-rounds'], long ? 5 : 3)),
    warmupS: positive('warmup', parsed.warmup, 2),
    connections: Math.round(positive('connections', parsed.connections, 16)),
    threads: Math.round(positive('threads', parsed.threads, 2)),
    coldRuns: Math.round(positive('cold-runs', parsed['cold-runs'], long ? 10 : 5)),
    soakDurationS: positive('soak-duration', parsed['soak-duration'], 60),
    soakConnections: Math.round(positive('soak-connections', parsed['soak-connections'], 4)),
    python: parsed.python ?? '/usr/bin/python3',
    tool,
  };
}

// ---- the machine ----------------------------------------------------------------------------

interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  python: Record<string, string>;
  wrk: string | null;
  commit: string | null;
  /** 1-minute load average when the run started and ended: other work on the host skews numbers. */
  loadAverage: { start: number; end?: number };
}

function versionOf(command: string, args: string[]): string {
  const { stdout, stderr, error } = spawnSync(command, args, { encoding: 'utf8' });
  return error ? `not found (${command})` : `${stdout}${stderr}`.trim();
}

function describeMachine(python: string): Machine {
  const cpus = os.cpus();
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  const pythons = [...new Set([python, '/usr/bin/python3', 'python3'])];
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python: Object.fromEntries(pythons.map((command) => [command, versionOf(command, ['--version']).replace(/^Python /, '')])),
    wrk: wrkVersion(),
    commit: git.status === 0 ? `${git.stdout.trim()}${dirty ? ' + uncommitted changes' : ''}` : null,
    loadAverage: { start: os.loadavg()[0]! },
  };
}

function header(machine: Machine, options: Options): string {
  const lines = [
    'Kiln benchmarks',
    `  machine  ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, ${machine.os}`,
    `  node     ${machine.node}`,
    `  python   ${Object.entries(machine.python).map(([command, version]) => `${command} = ${version}`).join('; ')}`,
    `  load     ${options.tool === 'wrk' ? `wrk ${machine.wrk}` : 'Node load generator (wrk not used)'}`,
    `  commit   ${machine.commit ?? 'unknown'}`,
    `  load avg ${machine.loadAverage.start.toFixed(2)} at start`,
  ];
  if (machine.loadAverage.start > machine.cores * 0.5) {
    lines.push(`  warning: the machine is busy (load ${machine.loadAverage.start.toFixed(2)} on ${machine.cores} cores); numbers will be noisy`);
  }
  return lines.join('\n');
}

// ---- the run --------------------------------------------------------------------------------

interface GroupFailure {
  error: string;
}

interface Results {
  editor?: EditorResults | GroupFailure;
  serving?: ServingResults | GroupFailure;
  coldStart?: ColdStartResults | GroupFailure;
  soak?: SoakResults | GroupFailure;
  devMode?: DevModeResults | GroupFailure;
}

/** Set on Ctrl-C: the groups still running fail as their processes go, and nothing more is reported. */
let interrupted = false;

function failed(result: object | undefined): result is GroupFailure {
  return result !== undefined && 'error' in result;
}

async function attempt<T extends object>(name: string, run: () => Promise<T>, tables: (result: T) => Table[]): Promise<T | GroupFailure> {
  const started = performance.now();
  process.stdout.write(`\n[${name}] running...\n`);
  try {
    const result = await run();
    process.stdout.write(`[${name}] ${((performance.now() - started) / 1000).toFixed(1)} s\n\n`);
    for (const table of tables(result)) process.stdout.write(`${renderTable(table)}\n\n`);
    return result;
  } catch (error) {
    const message = (error as Error).stack ?? String(error);
    if (!interrupted) process.stderr.write(`[${name}] failed: ${message}\n`);
    return { error: message };
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  const resources = new Resources();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write(`\nbench: ${signal}: stopping every process it started and deleting its temp folders\n`);
      void resources.releaseAll().finally(() => process.exit(130));
    });
  }
  process.on('exit', () => resources.releaseAllNow());

  const machine = describeMachine(options.python);
  process.stdout.write(`${header(machine, options)}\n`);
  const started = new Date();
  const results: Results = {};
  try {
    if (options.groups.includes('editor') && !interrupted) {
      results.editor = await attempt('editor', () => runEditorBench({ scale: options.scale }), editorTables);
    }
    if (options.groups.includes('serving') && !interrupted) {
      results.serving = await attempt('serving', () => runServingBench({
        python: options.python, tool: options.tool, connections: options.connections, threads: options.threads,
        durationS: options.durationS, latencyDurationS: options.latencyDurationS, latencyRounds: options.latencyRounds,
        warmupS: options.warmupS, executionSamples: 1000,
      }, resources), servingTables);
    }
    if (options.groups.includes('cold') && !interrupted) {
      results.coldStart = await attempt('cold start', () => runColdStartBench({ python: options.python, runs: options.coldRuns }, resources),
        coldStartTables);
    }
    if (options.groups.includes('soak') && !interrupted) {
      results.soak = await attempt('soak', () => runSoakBench({
        python: options.python, tool: options.tool, durationS: options.soakDurationS, connections: options.soakConnections, sampleEveryS: 5,
      }, resources), (result) => [soakTable(result)]);
    }
    if (options.groups.includes('dev') && !interrupted) {
      results.devMode = await attempt('hot reload', () => runDevModeBench({ python: options.python, runs: options.coldRuns }, resources),
        (result) => [devModeTable(result)]);
    }
  } finally {
    await resources.releaseAll();
  }
  // An interrupted run reports nothing: the signal handler exits once everything is cleaned up.
  if (interrupted) return;

  machine.loadAverage.end = os.loadavg()[0]!;
  const finished = new Date();
  const report = {
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationS: (finished.getTime() - started.getTime()) / 1000,
    machine,
    options,
    targets: { editor: EDITOR_TARGETS, serving: SERVING_TARGETS, coldStart: COLD_TARGETS, soak: SOAK_TARGETS, devMode: { saveToLiveMs: DEV_MODE_TARGET_MS } },
    results,
  };
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`load avg ${machine.loadAverage.end.toFixed(2)} at the end; ${report.durationS.toFixed(0)} s in all; results in ${path.relative(process.cwd(), options.out) || options.out}\n`);
  if (Object.values(results).some(failed)) process.exitCode = 1;
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
