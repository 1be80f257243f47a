/**
 * Serving benchmarks: requests per second and latency of a no-op sync endpoint through the
 * runtime, beside the same function served by uvicorn + FastAPI (the baseline the issue names)
 * and beside the runtime's own floor, a bare Node server in front of the same worker harness; and
 * the container's entrypoint (`python -m kiln_harness.serve`, HTTP in the worker itself) beside
 * the same uvicorn baseline.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { INVOKE_HEADERS } from '../../src/shared/api';
import { deployOk, startRuntime } from '../support/runtime';
import { BENCH_BODY, type LoadResult, type LoadTool, runLoad } from './load';
import type { Resources } from './resources';
import { summarize, type Summary } from './stats';
import { count, ms, ratio, type Table, verdict } from './table';
import { startWorkerProxy } from './workerProxy';

const FIXTURES = path.join(__dirname, 'fixtures');
const NOOP_APP = path.join(FIXTURES, 'noop_app.py');
/** As declared in noop_app.py; the FastAPI baseline serves the same path. */
const APP_NAME = 'bench-noop';
const ENDPOINT = '/noop';

export interface ServingOptions {
  python: string;
  tool: LoadTool;
  connections: number;
  threads: number;
  durationS: number;
  latencyDurationS: number;
  warmupS: number;
  /** The 1-connection runs are split into this many rounds, servers taking turns. */
  latencyRounds: number;
  /** Sequential requests read for the runtime's x-kiln-execution-ms header. */
  executionSamples: number;
}

export interface ServerResult {
  /** `connections` connections for durationS: throughput, and latency under load. */
  throughput: LoadResult;
  /** One connection, in rounds that take turns with the other servers': latency with nothing queued. */
  latencyRounds: LoadResult[];
  /** The medians of the rounds' p50 and p99. */
  latencyMs: { p50: number; p99: number };
}

export interface ServingResults {
  tool: LoadTool;
  python: string;
  sandbox: boolean;
  app: { file: string; maxMultiplexing: number; runners: number };
  kiln: ServerResult;
  uvicorn: ServerResult;
  directWorker: ServerResult;
  /** The harness's HTTP serve mode, as `kiln export`'s container runs it. */
  serveMode: ServerResult;
  /** What the worker itself reports per request (x-kiln-execution-ms, x-kiln-queue-ms), one request at a time. */
  worker: { executionMs: Summary; queueMs: Summary; clientMs: Summary };
  /** Per-request p50 the runtime adds, by two measures. */
  overheadP50Ms: { overExecution: number; overDirectWorker: number };
}

export const SERVING_TARGETS = { throughputVsBaseline: 1, maxOverheadP50Ms: 1, serveModeVsBaseline: 1 };

interface Served {
  url: string;
  token?: string;
}

/** Warm-up (not kept), then the throughput run. */
async function measureThroughput(server: Served, options: ServingOptions, resources: Resources): Promise<LoadResult> {
  const spec = { url: server.url, body: BENCH_BODY, connections: options.connections, threads: options.threads, ...(server.token ? { token: server.token } : {}) };
  // JIT, connection pools and the worker's threads warm up first; that run is not kept.
  await runLoad({ ...spec, durationS: options.warmupS }, options.tool, resources);
  return runLoad({ ...spec, durationS: options.durationS }, options.tool, resources);
}

/** 1-connection rounds, the servers taking turns, so a change in the machine's load hits all alike. */
async function measureLatency<K extends string>(servers: Record<K, Served>, options: ServingOptions, resources: Resources): Promise<Record<K, LoadResult[]>> {
  const names = Object.keys(servers) as K[];
  const rounds = Object.fromEntries(names.map((name) => [name, [] as LoadResult[]])) as Record<K, LoadResult[]>;
  const durationS = Math.max(1, Math.round(options.latencyDurationS / options.latencyRounds));
  for (let round = 0; round < options.latencyRounds; round++) {
    for (const name of names) {
      const { url, token } = servers[name];
      rounds[name].push(await runLoad({ url, body: BENCH_BODY, connections: 1, threads: 1, durationS, ...(token ? { token } : {}) }, options.tool, resources));
    }
  }
  return rounds;
}

function median(values: number[]): number {
  return summarize(values).medianMs;
}

/** One POST on a keep-alive agent: status, headers, body, and how long it took. */
function post(agent: http.Agent, url: URL, token: string, body: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text, ms: performance.now() - started }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

async function workerTimes(url: string, token: string, samples: number): Promise<ServingResults['worker']> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(url);
  const execution: number[] = [];
  const queue: number[] = [];
  const client: number[] = [];
  try {
    for (let index = 0; index < samples; index++) {
      const reply = await post(agent, target, token, BENCH_BODY);
      if (reply.status !== 200) throw new Error(`the runtime answered ${reply.status}: ${reply.body}`);
      execution.push(Number(reply.headers[INVOKE_HEADERS.executionMs]));
      queue.push(Number(reply.headers[INVOKE_HEADERS.queueMs]));
      client.push(reply.ms);
    }
  } finally {
    agent.destroy();
  }
  return { executionMs: summarize(execution), queueMs: summarize(queue), clientMs: summarize(client) };
}

interface Started extends Served {
  stop(): Promise<void>;
}

async function startKiln(options: ServingOptions, resources: Resources) {
  const dataDir = resources.tempDir('kiln-bench-runtime-');
  const runtime = await startRuntime({ dataDir: dataDir.path, args: ['--python', options.python] });
  const held = resources.process('kiln runtime', runtime.child);
  const stop = async () => {
    await held.release();
    await dataDir.release();
  };
  try {
    const sandbox = (await runtime.client.health()).sandbox;
    const detail = await deployOk(runtime.client, NOOP_APP);
    const check = await runtime.client.invoke(APP_NAME, ENDPOINT, JSON.parse(BENCH_BODY));
    if (check.status !== 200) throw new Error(`the no-op endpoint answered ${check.status}: ${JSON.stringify(check.body)}`);
    return {
      url: `${runtime.info.url}/${APP_NAME}${ENDPOINT}`,
      token: runtime.info.token,
      stop,
      sandbox,
      client: runtime.client,
      maxMultiplexing: detail.scale.maxMultiplexing,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, alive: () => boolean, what: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${what()} exited before it answered`);
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BENCH_BODY });
      await response.text();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${what()} did not answer at ${url} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function startUvicorn(resources: Resources): Promise<Started> {
  const port = await freePort();
  // The baseline needs FastAPI, which only Debian's interpreter has here.
  const child = spawn('/usr/bin/python3', ['-m', 'uvicorn', 'fastapi_noop:app', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'], {
    cwd: FIXTURES,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const held = resources.process('uvicorn', child);
  const url = `http://127.0.0.1:${port}/${APP_NAME}${ENDPOINT}`;
  try {
    await waitForHttp(url, () => child.exitCode === null, () => `uvicorn (${stderr.trim() || 'no output'}; the baseline needs apt-get install python3-fastapi python3-uvicorn)`);
  } catch (error) {
    await held.release();
    throw error;
  }
  return { url, stop: () => held.release() };
}

/** Serve mode with the worker harness the runtime uses (dist/python), max_multiplexing as the runtime's. */
async function startServeMode(options: ServingOptions, maxMultiplexing: number, resources: Resources): Promise<Started> {
  const port = await freePort();
  const child = spawn(options.python, ['-m', 'kiln_harness.serve', '--host', '127.0.0.1', '--port', String(port), '--app-file', NOOP_APP], {
    cwd: FIXTURES,
    env: { ...process.env, PYTHONPATH: path.resolve(__dirname, '..', '..', 'dist', 'python'), KILN_MAX_MULTIPLEXING: String(maxMultiplexing) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const held = resources.process('kiln serve mode', child);
  const url = `http://127.0.0.1:${port}${ENDPOINT}`;
  try {
    await waitForHttp(url, () => child.exitCode === null, () => `serve mode (${stderr.trim() || 'no output'})`);
  } catch (error) {
    await held.release();
    throw error;
  }
  return { url, stop: () => held.release() };
}

async function startDirectWorker(options: ServingOptions, maxMultiplexing: number, resources: Resources): Promise<Started> {
  // One worker, as the fixture's max_concurrency=1 gives the runtime one runner.
  const proxy = await startWorkerProxy({ python: options.python, appFile: NOOP_APP, endpoint: ENDPOINT, workers: 1, maxMultiplexing }, resources);
  return { url: `${proxy.url}/${APP_NAME}${ENDPOINT}`, stop: () => proxy.close() };
}

export async function runServingBench(options: ServingOptions, resources: Resources): Promise<ServingResults> {
  const started: Started[] = [];
  try {
    const kiln = await startKiln(options, resources);
    started.push(kiln);
    const uvicorn = await startUvicorn(resources);
    started.push(uvicorn);
    const directWorker = await startDirectWorker(options, kiln.maxMultiplexing, resources);
    started.push(directWorker);
    const serveMode = await startServeMode(options, kiln.maxMultiplexing, resources);
    started.push(serveMode);
    const servers = { kiln, uvicorn, directWorker, serveMode };

    const throughput = {
      kiln: await measureThroughput(kiln, options, resources),
      uvicorn: await measureThroughput(uvicorn, options, resources),
      directWorker: await measureThroughput(directWorker, options, resources),
      serveMode: await measureThroughput(serveMode, options, resources),
    };
    const latency = await measureLatency(servers, options, resources);
    const worker = await workerTimes(kiln.url, kiln.token, options.executionSamples);
    const runners = (await kiln.client.getApp(APP_NAME)).runnerDetails.length;

    const result = (name: keyof typeof servers): ServerResult => ({
      throughput: throughput[name],
      latencyRounds: latency[name],
      latencyMs: { p50: median(latency[name].map((round) => round.latencyMs.p50)), p99: median(latency[name].map((round) => round.latencyMs.p99)) },
    });
    const results = { kiln: result('kiln'), uvicorn: result('uvicorn'), directWorker: result('directWorker'), serveMode: result('serveMode') };
    return {
      tool: options.tool,
      python: options.python,
      sandbox: kiln.sandbox,
      app: { file: path.relative(path.resolve(__dirname, '..', '..'), NOOP_APP), maxMultiplexing: kiln.maxMultiplexing, runners },
      ...results,
      worker,
      overheadP50Ms: {
        overExecution: results.kiln.latencyMs.p50 - worker.executionMs.medianMs,
        overDirectWorker: results.kiln.latencyMs.p50 - results.directWorker.latencyMs.p50,
      },
    };
  } finally {
    for (const server of started.reverse()) await server.stop();
  }
}

// ---- tables ---------------------------------------------------------------------------------

export function servingTables(results: ServingResults): Table[] {
  const { connections, durationS } = results.kiln.throughput;
  const rounds = results.kiln.latencyRounds;
  const baseline = results.uvicorn.throughput.requestsPerSecond;
  const row = (name: string, server: ServerResult, target: [string, string] = ['', '']) => [
    name,
    count(server.throughput.requestsPerSecond),
    ratio(server.throughput.requestsPerSecond / baseline),
    ms(server.throughput.latencyMs.p50),
    ms(server.throughput.latencyMs.p99),
    ms(server.latencyMs.p50),
    ms(server.latencyMs.p99),
    count(server.throughput.errors + server.latencyRounds.reduce((sum, round) => sum + round.errors, 0)),
    ...target,
  ];
  const throughputMet = results.kiln.throughput.requestsPerSecond >= baseline * SERVING_TARGETS.throughputVsBaseline;
  const serveModeMet = results.serveMode.throughput.requestsPerSecond >= baseline * SERVING_TARGETS.serveModeVsBaseline;
  const overhead = (value: number) => [ms(value), `<${SERVING_TARGETS.maxOverheadP50Ms} ms`, verdict(value < SERVING_TARGETS.maxOverheadP50Ms)];
  return [
    {
      title: `Runtime: no-op sync endpoint, JSON POST (${results.tool === 'wrk' ? 'wrk' : 'Node load generator'}; ${connections} connections for ${durationS} s; `
        + `1 connection in ${rounds.length} rounds of ${rounds[0]?.durationS ?? 0} s, servers taking turns)`,
      head: ['server', 'req/s', 'vs uvicorn', `p50 @${connections}`, `p99 @${connections}`, 'p50 @1', 'p99 @1', 'errors', 'target', 'met'],
      rows: [
        row('kiln runtime (fastify -> pool -> worker)', results.kiln, ['≥ uvicorn req/s', verdict(throughputMet)]),
        row('baseline: uvicorn + FastAPI, sync def', results.uvicorn),
        row('floor: Node http -> same worker, nothing else', results.directWorker),
        row('kiln serve mode (container entrypoint: HTTP in the worker)', results.serveMode, ['≥ uvicorn req/s', verdict(serveModeMet)]),
      ],
      notes: [
        `app: ${results.app.file}, max_multiplexing=${results.app.maxMultiplexing}, ${results.app.runners} runner(s); Python ${results.python}; sandbox ${results.sandbox ? 'on (bubblewrap)' : 'off'}.`,
        `Latencies in ms; @1 columns are the medians of the rounds' p50 and p99. Each server had a warm-up run first, not counted.`,
        'The floor runs the same worker harness and app as the runtime behind a bare Node http server: no routing, token, validation, scheduling, logs or metrics.',
        'Serve mode is `python -m kiln_harness.serve` with the same app and max_multiplexing, as `kiln export`\'s container runs it: one process, no runtime in front.',
      ],
    },
    {
      title: 'Runtime: p50 overhead per request (1 connection)',
      head: ['measure', 'ms', 'target', 'met'],
      rows: [
        ['runtime p50 (1 connection)', ms(results.kiln.latencyMs.p50), '', ''],
        [`worker's own execution p50 (x-kiln-execution-ms, ${results.worker.executionMs.samples} requests)`, ms(results.worker.executionMs.medianMs), '', ''],
        ['overhead = runtime p50 - execution p50', ...overhead(results.overheadP50Ms.overExecution)],
        ['direct-to-worker p50 (floor, 1 connection)', ms(results.directWorker.latencyMs.p50), '', ''],
        ['overhead = runtime p50 - direct-to-worker p50', ...overhead(results.overheadP50Ms.overDirectWorker)],
      ],
      notes: [
        'The first overhead counts everything outside the handler: HTTP, the runtime, the pipe and the worker\'s framing and threads.',
        'The second counts only what the runtime adds over a bare Node server talking to the same worker.',
      ],
    },
  ];
}
