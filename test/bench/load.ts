/**
 * HTTP load: wrk with a small Lua script for the JSON POST when wrk is installed, else a Node
 * load generator (keep-alive `http` loops, one per connection) in a child process of its own so
 * that it never shares an event loop with a server under test. Results say which one ran.
 *
 * Run as a script, this file is that fallback generator: it prints one LoadResult as JSON.
 */
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import type { Resources } from './resources';
import { percentile } from './stats';

export interface LoadSpec {
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** The JSON body of every POST (the Lua script sends the same one). */
  body: string;
  connections: number;
  threads: number;
  durationS: number;
}

export interface LoadResult {
  tool: 'wrk' | 'node';
  connections: number;
  durationS: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number };
  /** Responses other than 2xx/3xx, plus connect/read/write errors and timeouts. */
  errors: number;
}

const POST_SCRIPT = path.join(__dirname, 'fixtures', 'post.lua');
/** The body post.lua sends; the Node generator sends the same. */
export const BENCH_BODY = '{"value": 1}';

let wrkFound: boolean | undefined;

export function wrkAvailable(): boolean {
  wrkFound ??= !spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error;
  return wrkFound;
}

export function wrkVersion(): string | null {
  if (!wrkAvailable()) return null;
  const { stdout } = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return /wrk\s+(\S+)/.exec(stdout)?.[1] ?? 'unknown';
}

export type LoadTool = LoadResult['tool'];

/** wrk where it is installed, else the Node generator. */
export function defaultLoadTool(): LoadTool {
  return wrkAvailable() ? 'wrk' : 'node';
}

export async function runLoad(spec: LoadSpec, tool: LoadTool, resources: Resources): Promise<LoadResult> {
  if (spec.body !== BENCH_BODY) throw new Error('post.lua sends BENCH_BODY only');
  return tool === 'wrk' ? runWrk(spec, resources) : runNodeLoad(spec, resources);
}

/** Collects a child's stdout; rejects with its stderr when it exits non-zero. */
function output(command: string, args: string[], env: NodeJS.ProcessEnv, resources: Resources, name: string): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const held = resources.process(name, child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      void held.release();
      if (code === 0) resolve(stdout);
      else reject(new Error(`${name} ${signal ? `was killed (${signal})` : `exited with code ${code}`}: ${stderr || stdout}`));
    });
  });
}

/** wrk prints latencies as 250.00us, 1.60ms, 1.02s or 2.00m. */
function wrkMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!match) throw new Error(`cannot read wrk latency "${text}"`);
  const value = Number(match[1]);
  return value * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[match[2] as 'us' | 'ms' | 's' | 'm'];
}

export function parseWrk(text: string): Omit<LoadResult, 'tool' | 'connections' | 'durationS'> {
  const grab = (pattern: RegExp) => {
    const match = pattern.exec(text);
    if (!match) throw new Error(`wrk output has no ${pattern}:\n${text}`);
    return match[1]!;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const nonOk = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return {
    requests: Number(grab(/(\d+) requests in/)),
    requestsPerSecond: Number(grab(/Requests\/sec:\s+([\d.]+)/)),
    latencyMs: { p50: wrkMs(grab(/\s50%\s+(\S+)/)), p90: wrkMs(grab(/\s90%\s+(\S+)/)), p99: wrkMs(grab(/\s99%\s+(\S+)/)) },
    errors: nonOk + (socketErrors ? socketErrors.slice(1).reduce((sum, value) => sum + Number(value), 0) : 0),
  };
}

async function runWrk(spec: LoadSpec, resources: Resources): Promise<LoadResult> {
  const args = ['-t', String(Math.min(spec.threads, spec.connections)), '-c', String(spec.connections), '-d', `${spec.durationS}s`,
    '--latency', '-s', POST_SCRIPT, spec.url];
  const text = await output('wrk', args, { ...process.env, KILN_BENCH_TOKEN: spec.token ?? '' }, resources, 'wrk');
  return { tool: 'wrk', connections: spec.connections, durationS: spec.durationS, ...parseWrk(text) };
}

async function runNodeLoad(spec: LoadSpec, resources: Resources): Promise<LoadResult> {
  const text = await output(process.execPath, ['--import', 'tsx', __filename, JSON.stringify(spec)], process.env, resources, 'node load generator');
  return JSON.parse(text) as LoadResult;
}

/** The fallback generator itself: `connections` loops of keep-alive POSTs for `durationS`. */
async function nodeLoad(spec: LoadSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(spec.body) };
  if (spec.token) headers.authorization = `Bearer ${spec.token}`;
  const latencies: number[] = [];
  let errors = 0;
  const post = () => new Promise<void>((resolve) => {
    const started = performance.now();
    const request = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers }, (response) => {
      response.resume();
      response.on('end', () => {
        if ((response.statusCode ?? 0) >= 400) errors++;
        latencies.push(performance.now() - started);
        resolve();
      });
    });
    request.on('error', () => { errors++; resolve(); });
    request.end(spec.body);
  });
  const started = performance.now();
  const deadline = started + spec.durationS * 1000;
  await Promise.all(Array.from({ length: spec.connections }, async () => {
    while (performance.now() < deadline) await post();
  }));
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    tool: 'node',
    connections: spec.connections,
    durationS: spec.durationS,
    requests: latencies.length,
    requestsPerSecond: latencies.length / elapsedS,
    latencyMs: { p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9), p99: percentile(latencies, 0.99) },
    errors,
  };
}

if (require.main === module) {
  nodeLoad(JSON.parse(process.argv[2]!) as LoadSpec).then((result) => process.stdout.write(JSON.stringify(result)), (error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exit(1);
  });
}
