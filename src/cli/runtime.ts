/**
 * `kiln runtime start|stop|status`: the runtime for this machine's data directory. `start` runs
 * it in this terminal (Ctrl-C stops it), or with --detach in the background, returning once it
 * answers; a runtime already running for the data directory is found, not doubled.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { Option, type Command } from 'commander';
import { ensureRuntime, isProcessAlive, KilnClient, NoRuntimeError, type RuntimeFlags, runtimeArguments, RuntimeUnreachableError } from '../client';
import type { HealthResponse } from '../shared/api';
import { runtimeInfoPath } from '../shared/dataDir';
import { dataDirOf, locate, resolvePython, runtimeScript } from './connection';
import { EXIT, parseCount, parsePositive } from './failures';
import { formatFields, printJson, relativeTime, styleFor } from './format';

interface StartOptions extends Omit<RuntimeFlags, 'dataDir'> {
  detach?: boolean;
  json?: boolean;
}

/** How long a stopping runtime gets to finish its requests and stop its runners. */
const STOP_TIMEOUT_MS = 30_000;

export function registerRuntime(program: Command): void {
  const runtime = program
    .command('runtime')
    .description('start, stop and inspect the Kiln runtime that runs the apps');

  runtime
    .command('start')
    .description('start the runtime in this terminal (Ctrl-C stops it), or in the background with --detach')
    .option('--detach', 'start in the background and return once it answers')
    .option('--port <port>', 'the port to listen on; 0 takes any free port (default 8411)', parseCount())
    .option('--host <address>', 'the address to listen on (default 127.0.0.1; any other exposes the token-protected API to the network)')
    .option('--python <path>', 'the Python interpreter for apps that do not name one')
    .addOption(new Option('--gpu-fallback <mode>', 'what an app does on a host without the GPU it asks for: run on CPU with a warning, or fail')
      .choices(['cpu', 'fail']))
    .option('--max-cpu-runners <n>', 'runners one app may have when only the CPU limits it (default: CPU cores, at least 2)', parseCount(1))
    .option('--no-sandbox', 'run workers without bubblewrap even where it is available')
    .option('--no-templates', 'start every runner as a fresh Python process, none forked from its revision\'s warm template')
    .option('--max-json-depth <n>', 'levels of arrays and objects a request body may nest (default 200, at most 500)', parseCount(1))
    .option('--max-body-mb <mb>', 'megabytes a request body may have (default 64)', parsePositive)
    .option('--max-queued <n>', 'requests one app may have waiting for a runner (default 1000)', parseCount(1))
    .option('--request-timeout <seconds>', 'seconds a request may run when its app sets no request_timeout (default 3600)', parsePositive)
    .option('--json', "with --detach: print the runtime's URL, pid and data directory as JSON")
    .action(async ({ detach, json, ...given }: StartOptions, command: Command) => {
      const flags: RuntimeFlags = { ...given, dataDir: dataDirOf(command), python: resolvePython(given.python) };
      if (!detach) {
        process.exitCode = await runInForeground(runtimeScript(), runtimeArguments(flags));
        return;
      }
      const runtime = await ensureRuntime({ ...flags, runtimeScript: runtimeScript() });
      const { token: _token, ...shown } = runtime;
      if (json) {
        printJson(shown);
        return;
      }
      const style = styleFor(process.stdout);
      process.stdout.write(runtime.started
        ? `${style.green('✓')} Kiln runtime started at ${style.bold(runtime.url)} (pid ${runtime.pid})\n${formatFields([['Data dir', flags.dataDir], ['Log', runtime.logFile]])}\n`
        : `Kiln runtime already running at ${style.bold(runtime.url)} (pid ${runtime.pid})\n`);
    });

  runtime
    .command('stop')
    .description('stop the runtime: running requests finish, runners stop, then it exits')
    .option('--json', 'print the stopped runtime as JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const location = locate(command);
      if (!location) throw new NoRuntimeError(dataDirOf(command));
      const client = new KilnClient(location);
      const health = await client.health();
      await client.shutdown();
      await waitUntilStopped(client, location.source === 'runtime.json' ? health.pid : undefined);
      if (options.json) printJson({ stopped: true, url: health.url, pid: health.pid });
      else process.stdout.write(`${styleFor(process.stdout).green('✓')} Stopped the Kiln runtime at ${health.url} (pid ${health.pid})\n`);
    });

  runtime
    .command('status')
    .description("show whether the runtime is running, where, and what it found: GPUs, Python, sandbox")
    .option('--json', 'print the status as JSON ({"running": false} when none is running)')
    .action(async (options: { json?: boolean }, command: Command) => {
      const dataDir = dataDirOf(command);
      const location = locate(command);
      const status = location && await readStatus(new KilnClient(location));
      if (!location || !status) {
        if (options.json) printJson({ running: false, dataDir });
        else process.stdout.write(`No Kiln runtime is running for ${dataDir}.\nStart one with \`kiln runtime start\`.\n`);
        process.exitCode = EXIT.noRuntime;
        return;
      }
      if (options.json) printJson({ running: true, ...status.health, apps: status.apps });
      else process.stdout.write(`${formatStatus(status.health, status.apps, location.source === 'env' ? 'from KILN_TOKEN' : `in ${runtimeInfoPath(dataDir)}`)}\n`);
    });
}

/** The runtime's health and app count; undefined when it does not answer. */
async function readStatus(client: KilnClient): Promise<{ health: HealthResponse; apps: number } | undefined> {
  try {
    return { health: await client.health(), apps: (await client.listApps()).length };
  } catch (error) {
    if (error instanceof RuntimeUnreachableError) return undefined;
    throw error;
  }
}

/** Runs the runtime attached to this terminal and resolves with its exit code. */
function runInForeground(script: string, args: string[]): Promise<number> {
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
  // Ctrl-C reaches the runtime directly (same process group) and it shuts down cleanly; this
  // process only waits for it. Signals sent to this process alone are passed on.
  const ignore = () => undefined;
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', forward);
      process.off('SIGHUP', forward);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/** Until the local process is gone, or for a remote runtime until it stops answering. */
async function waitUntilStopped(client: KilnClient, localPid: number | undefined): Promise<void> {
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (localPid !== undefined ? !isProcessAlive(localPid) : !(await answers(client))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const which = localPid !== undefined ? ` (pid ${localPid})` : '';
  throw new Error(`the runtime${which} is still running ${STOP_TIMEOUT_MS / 1000} s after it was asked to stop: ` +
    `its runners may still be finishing requests${localPid !== undefined ? `; \`kill ${localPid}\` stops it at once` : ''}`);
}

async function answers(client: KilnClient): Promise<boolean> {
  try {
    await client.health({ signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

/** `tokenSource` says where the token came from, which is where a client finds it. */
export function formatStatus(health: HealthResponse, apps: number, tokenSource: string): string {
  const style = styleFor(process.stdout);
  const gpus = health.gpus.length
    ? health.gpus.map((gpu) => `${gpu.index}: ${gpu.name}, ${Math.round(gpu.memoryMiB / 1024)} GB`)
    : [`none found (GPU apps ${health.gpuFallback === 'cpu' ? 'run on CPU, with a warning' : 'fail to deploy'})`];
  const fields: [string, string][] = [
    ['URL', health.url],
    ['PID', String(health.pid)],
    ['Started', `${relativeTime(health.startedAt)} (${health.startedAt})`],
    ['Data dir', health.dataDir],
    ['Token', tokenSource],
    ['Python', `${health.python.path} ${health.python.version ? `(${health.python.version})` : style.yellow('(version unknown)')}`],
    ['GPUs', gpus[0]!],
    ...gpus.slice(1).map((line): [string, string] => ['', line]),
    ['Sandbox', health.sandbox ? 'bubblewrap' : 'off (runners are plain processes)'],
    ['Starts', health.templates ? 'runners forked from warm templates' : 'every runner a fresh process'],
    ['Apps', String(apps)],
  ];
  return `Kiln runtime ${health.version} ${style.green('running')}\n${formatFields(fields)}`;
}
