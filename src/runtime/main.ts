/**
 * The Kiln runtime service: `node dist/runtime.js [options]`. One per data directory; a second
 * start against a live one prints that one's URL and leaves it be.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { HealthResponse, RuntimeInfo } from '../shared/api';
import { defaultDataDir, liveRuntimeInfo, readRuntimeInfo, runtimeInfoPath } from '../shared/dataDir';
import { AppManager } from './apps';
import { Deployer } from './deploys/deploy';
import { EnvironmentStore, probePython, type PythonInfo } from './deploys/environments';
import { StateStore } from './deploys/store';
import { reportFault } from './faults';
import { QueueManager } from './http/queue';
import { buildServer } from './http/server';
import { DEFAULT_LIMITS, MAX_JSON_DEPTH_SETTING, type RuntimeLimits } from './limits';
import { EventBus } from './observability/events';
import { LogStore } from './observability/logs';
import { Metrics } from './observability/metrics';
import { detectGpus, GpuAllocator } from './runners/gpu';
import { RunnerLauncher } from './runners/launch';
import { LocalProcessBackend } from './runners/runner';
import { bubblewrapUsable } from './runners/sandbox';
import { writeJsonAtomic } from './state/atomicFiles';
import { SecretStore } from './state/secrets';
import { VolumeStore } from './state/volumes';

declare const KILN_VERSION: string;

const DEFAULT_PORT = 8411;
const MIB = 1024 * 1024;

const USAGE = `Usage: node runtime.js [options]
  --data-dir DIR           where apps, logs, secrets and volumes live (default: $KILN_HOME or the platform data dir)
  --host HOST              address to listen on (default 127.0.0.1)
  --port PORT              port to listen on; 0 takes any free port (default 8411, or any free one when
                           8411 is taken)
  --python PATH            default interpreter for apps (default: $KILN_PYTHON or python3)
  --gpu-fallback cpu|fail  what a GPU app does on a host without its GPU (default cpu)
  --max-cpu-runners N      runners one app may have when only the CPU limits it (default: CPU cores, at least 2)
  --no-sandbox             run workers without bubblewrap even where it is available
  --no-templates           start every runner as a fresh Python process instead of forking it from its
                           revision's warm template (Linux; elsewhere runners always start afresh)
Limits (each refused with a 4xx in fal's {"detail": ...} shape):
  --max-json-depth N       levels of arrays and objects a request body may nest (default ${DEFAULT_LIMITS.maxJsonDepth}, at most ${MAX_JSON_DEPTH_SETTING})
  --max-body-mb N          megabytes a request body may have (default ${DEFAULT_LIMITS.maxBodyBytes / MIB})
  --max-queued N           requests one app may have waiting for a runner (default ${DEFAULT_LIMITS.maxQueuedPerApp})
  --request-timeout S      seconds a request may run when its app sets no request_timeout (default ${DEFAULT_LIMITS.defaultRequestTimeoutS})`;

function fail(message: string): never {
  process.stderr.write(`kiln runtime: ${message}\n`);
  process.exit(2);
}

function readOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        'data-dir': { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string' },
        python: { type: 'string' },
        'gpu-fallback': { type: 'string', default: 'cpu' },
        'max-cpu-runners': { type: 'string' },
        'no-sandbox': { type: 'boolean', default: false },
        'no-templates': { type: 'boolean', default: false },
        'max-json-depth': { type: 'string' },
        'max-body-mb': { type: 'string' },
        'max-queued': { type: 'string' },
        'request-timeout': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const port = parsed.port === undefined ? DEFAULT_PORT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${parsed.port} is not a port number`);
  const fallback = parsed['gpu-fallback'];
  if (fallback !== 'cpu' && fallback !== 'fail') fail(`--gpu-fallback must be cpu or fail, not ${fallback}`);
  const maxCpuRunners = parsed['max-cpu-runners'] === undefined ? Math.max(2, os.cpus().length) : Number(parsed['max-cpu-runners']);
  if (!Number.isInteger(maxCpuRunners) || maxCpuRunners < 1) fail('--max-cpu-runners must be a whole number, 1 or more');
  const limit = (flag: string, given: string | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER, whole = true) => {
    if (given === undefined) return fallback;
    const value = Number(given);
    if (!(value > 0 && value <= max && (!whole || Number.isInteger(value)))) fail(`--${flag} must be a ${whole ? 'whole ' : ''}number from 1 to ${max}, not ${given}`);
    return value;
  };
  const limits: RuntimeLimits = {
    maxJsonDepth: limit('max-json-depth', parsed['max-json-depth'], DEFAULT_LIMITS.maxJsonDepth, MAX_JSON_DEPTH_SETTING),
    maxBodyBytes: Math.round(limit('max-body-mb', parsed['max-body-mb'], DEFAULT_LIMITS.maxBodyBytes / MIB, 1024, false) * MIB),
    maxQueuedPerApp: limit('max-queued', parsed['max-queued'], DEFAULT_LIMITS.maxQueuedPerApp),
    defaultRequestTimeoutS: limit('request-timeout', parsed['request-timeout'], DEFAULT_LIMITS.defaultRequestTimeoutS, Number.MAX_SAFE_INTEGER, false),
  };
  return {
    dataDir: path.resolve(parsed['data-dir'] ?? defaultDataDir()),
    host: parsed.host!,
    port,
    /** A port asked for must be had; the default may give way to any free one. */
    portGiven: parsed.port !== undefined,
    python: parsed.python ?? process.env.KILN_PYTHON ?? 'python3',
    gpuFallback: fallback as 'cpu' | 'fail',
    maxCpuRunners,
    sandbox: !parsed['no-sandbox'],
    // Templates fork, and tell a fork-safe process by what Linux's /proc shows.
    templates: !parsed['no-templates'] && process.platform === 'linux',
    limits,
  };
}

/**
 * Where templates listen for their runners: the data directory's run/ when its path leaves room
 * for a socket's name (about 100 bytes in all), else a private folder under the system's temp.
 */
function socketDir(dataDir: string): string {
  const inData = path.join(dataDir, 'run');
  const longest = path.join(inData, `${'0'.repeat(16)}.sock`);
  if (Buffer.byteLength(longest) > 100) return mkdtempSync(path.join(os.tmpdir(), 'kiln-run-'));
  // Sockets a runtime killed earlier left behind.
  rmSync(inData, { recursive: true, force: true });
  mkdirSync(inData, { recursive: true, mode: 0o700 });
  return inData;
}

/** The runtime already serving this data directory, if one is alive and answering. */
async function liveRuntime(dataDir: string): Promise<RuntimeInfo | undefined> {
  const info = liveRuntimeInfo(dataDir);
  if (!info) return undefined;
  try {
    const response = await fetch(`${info.url}/v1/health`, { headers: { authorization: `Bearer ${info.token}` }, signal: AbortSignal.timeout(3000) });
    return response.ok ? info : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const options = readOptions();
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const running = await liveRuntime(options.dataDir);
  if (running) {
    process.stdout.write(`A Kiln runtime is already running for ${options.dataDir}: ${running.url} (pid ${running.pid}).\n`);
    return;
  }

  const harnessDir = path.join(__dirname, 'python');
  if (!existsSync(path.join(harnessDir, 'kiln_worker.py'))) fail(`the worker harness is missing from ${harnessDir}; rebuild with npm run build`);
  const [gpus, sandbox, python] = await Promise.all([
    detectGpus(),
    options.sandbox ? bubblewrapUsable() : Promise.resolve(false),
    probePython(options.python).then((info): PythonInfo | null => info, (error: Error) => {
      process.stderr.write(`kiln runtime: warning: ${error.message}\n`);
      return null;
    }),
  ]);

  const token = randomBytes(32).toString('base64url');
  const startedAt = new Date().toISOString();
  let url = '';
  const publicUrl = () => url;
  const events = new EventBus();
  const secrets = new SecretStore(path.join(options.dataDir, 'secrets.json'), path.join(options.dataDir, 'secrets.key'), events);
  const redact = (text: string) => secrets.redact(text);
  const logs = new LogStore(path.join(options.dataDir, 'logs'), redact);
  const volumes = new VolumeStore(path.join(options.dataDir, 'volumes'));
  const store = new StateStore(options.dataDir);
  const filesDir = path.join(options.dataDir, 'files');
  const gpuAllocator = new GpuAllocator(gpus, options.gpuFallback);
  const sockets = socketDir(options.dataDir);
  const launcher = new RunnerLauncher({
    backend: new LocalProcessBackend(), sandbox, dataDir: options.dataDir, harnessDir, filesDir, secrets, volumes, logs, publicUrl,
    socketDir: sockets, maxJsonDepth: options.limits.maxJsonDepth,
  });
  let apps!: AppManager;
  const metrics = new Metrics(() => apps.pools(), () => apps.list().map((app) => ({ app: app.name, usd: app.costUsd })), path.join(options.dataDir, 'usage.jsonl'));
  apps = new AppManager({
    store, logs, gpus: gpuAllocator, launcher, metrics, events, cpuRunnerLimit: options.maxCpuRunners, templates: options.templates,
    limits: options.limits, publicUrl, redact,
  });
  const environments = new EnvironmentStore(path.join(options.dataDir, 'envs'), harnessDir);
  // Compiled before the first deploy, and before the templates of restored apps, need it.
  if (python) await environments.compileHarness(python);
  const deployer = new Deployer({
    apps, store, environments, launcher, logs, events,
    stagingDir: path.join(options.dataDir, 'staging'), defaultPython: options.python,
  });
  const queue = new QueueManager(path.join(options.dataDir, 'queue'), apps, logs, publicUrl);
  rmSync(path.join(options.dataDir, 'staging'), { recursive: true, force: true });

  const health = (): HealthResponse => ({
    version: KILN_VERSION, pid: process.pid, url, dataDir: options.dataDir, startedAt, gpus, gpuFallback: options.gpuFallback,
    python: { path: python?.executable ?? options.python, version: python?.version ?? null }, sandbox, templates: options.templates,
  });
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('Stopping: runners finish their requests and run teardown.\n');
    await apps.stopAll();
    await server.close();
    metrics.usage.close();
    logs.close();
    // Only our own files: another runtime may have taken the data directory since.
    if (readRuntimeInfo(options.dataDir)?.pid === process.pid) {
      rmSync(runtimeInfoPath(options.dataDir), { force: true });
      rmSync(sockets, { recursive: true, force: true });
    }
    process.exit(0);
  };
  // Stopping owns its failures: whatever went wrong is said, and the process still ends.
  const stop = () => shutdown().catch((error: unknown) => {
    reportFault('stopping the runtime', error);
    process.exit(1);
  });
  const server = buildServer({ token, apps, deployer, queue, logs, secrets, volumes, metrics, events, filesDir, limits: options.limits, health, shutdown: () => void stop() });

  try {
    await server.listen({ host: options.host, port: options.port });
  } catch (error) {
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    if (!inUse) fail((error as Error).message);
    if (options.portGiven) fail(`port ${options.port} is in use: pass --port with a free port, or --port 0 for any`);
    // Clients find the runtime through runtime.json, so any port serves as well as the default.
    await server.listen({ host: options.host, port: 0 });
  }
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  apps.restore();
  queue.restore();
  metrics.usage.start();
  const info: RuntimeInfo = { url, token, pid: process.pid, dataDir: options.dataDir, version: KILN_VERSION, startedAt };
  writeJsonAtomic(runtimeInfoPath(options.dataDir), info, 0o600);

  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  const gpuText = gpus.length ? gpus.map((gpu) => `${gpu.index}: ${gpu.name} (${Math.round(gpu.memoryMiB / 1024)} GiB)`).join(', ')
    : `none (GPU apps run on ${options.gpuFallback === 'cpu' ? 'CPU, with a warning' : 'nothing: their deploys fail'})`;
  process.stdout.write([
    `Kiln runtime ${KILN_VERSION} listening on ${url}`,
    `  data      ${options.dataDir}`,
    `  GPUs      ${gpuText}`,
    `  python    ${python ? `${python.executable} (${python.version})` : `${options.python} (not usable: apps must name an interpreter)`}`,
    `  sandbox   ${sandbox ? 'bubblewrap' : 'none (volumes are linked at their mount paths)'}`,
    `  starts    ${options.templates ? 'runners forked from warm templates' : 'every runner a fresh process'}`,
    `  apps      ${apps.list().length} restored`,
    '',
  ].join('\n'));
}

// A failure to start is a message for the person starting it; KILN_DEBUG=1 adds the stack.
main().catch((error: unknown) => fail(process.env.KILN_DEBUG === '1' ? (error as Error).stack ?? String(error) : (error as Error).message));
