/**
 * Finds the runtime for a data directory, or starts one in the background and waits until it
 * answers. The CLI runs it with its own Node; the extension with VS Code's (`process.execPath`
 * with ELECTRON_RUN_AS_NODE=1 in `env`). The runtime outlives whoever started it.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { RuntimeInfo } from '../shared/api';
import { KilnClient } from './client';
import { liveRuntimeInfo } from './discovery';

/** The runtime's command-line options (`node dist/runtime.js --help`); unset ones keep its defaults. */
export interface RuntimeFlags {
  dataDir: string;
  python?: string;
  host?: string;
  port?: number;
  gpuFallback?: 'cpu' | 'fail';
  maxCpuRunners?: number;
  /** false: workers run without bubblewrap. */
  sandbox?: boolean;
  /** false: every runner is a fresh Python process, none forked from a template. */
  templates?: boolean;
  maxJsonDepth?: number;
  maxBodyMb?: number;
  maxQueued?: number;
  /** Seconds. */
  requestTimeout?: number;
}

/** The runtime's arguments for `flags`, after its script: for a runtime in the background or in a terminal. */
export function runtimeArguments(flags: RuntimeFlags): string[] {
  const args = ['--data-dir', flags.dataDir];
  const valued: [string, string | number | undefined][] = [
    ['--host', flags.host], ['--port', flags.port], ['--python', flags.python], ['--gpu-fallback', flags.gpuFallback],
    ['--max-cpu-runners', flags.maxCpuRunners], ['--max-json-depth', flags.maxJsonDepth], ['--max-body-mb', flags.maxBodyMb],
    ['--max-queued', flags.maxQueued], ['--request-timeout', flags.requestTimeout],
  ];
  for (const [flag, value] of valued) if (value !== undefined && value !== '') args.push(flag, String(value));
  if (flags.sandbox === false) args.push('--no-sandbox');
  if (flags.templates === false) args.push('--no-templates');
  return args;
}

export interface EnsureRuntimeOptions extends RuntimeFlags {
  /** dist/runtime.js. */
  runtimeScript: string;
  nodePath?: string;
  /** The runtime's whole environment; by default this process's. */
  env?: NodeJS.ProcessEnv;
  /** How long a new runtime gets to answer /v1/health. */
  timeoutMs?: number;
}

export interface RuntimeHandle {
  url: string;
  token: string;
  pid: number;
  dataDir: string;
  /** False when a runtime was already running for the data directory. */
  started: boolean;
  logFile: string;
}

/** The runtime did not come up; the message carries the end of its log. */
export class RuntimeStartError extends Error {
  override readonly name = 'RuntimeStartError';

  constructor(message: string, readonly logFile: string) {
    super(message);
  }
}

const POLL_MS = 100;
const HEALTH_TIMEOUT_MS = 2_000;
const LOG_TAIL_LINES = 20;

export function runtimeLogPath(dataDir: string): string {
  return path.join(dataDir, 'runtime.log');
}

export async function ensureRuntime(options: EnsureRuntimeOptions): Promise<RuntimeHandle> {
  const { dataDir } = options;
  const logFile = runtimeLogPath(dataDir);
  const running = await answeringRuntime(dataDir);
  if (running) return handle(running, dataDir, logFile, false);

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const child = startDetached(options, logFile);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    const info = await answeringRuntime(dataDir);
    if (info) return handle(info, dataDir, logFile, info.pid === child.pid);
    if (child.failure) throw new RuntimeStartError(`could not start ${options.nodePath ?? process.execPath}: ${child.failure.message}`, logFile);
    if (child.exit) throw exitedError(child.exit, dataDir, logFile, child.logOffset);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  stopUnanswering(child);
  throw new RuntimeStartError(
    `the Kiln runtime did not answer within ${Math.round((options.timeoutMs ?? 30_000) / 1000)} s, so it was stopped. ` +
    `The end of ${logFile}:\n${logTail(logFile, child.logOffset)}`, logFile);
}

/** A runtime too slow to answer is stopped rather than left half-started behind the error. */
function stopUnanswering(child: StartedRuntime): void {
  if (child.pid === undefined || child.exit) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    // It exited between the last check and now.
  }
}

function handle(info: RuntimeInfo, dataDir: string, logFile: string, started: boolean): RuntimeHandle {
  return { url: info.url, token: info.token, pid: info.pid, dataDir, started, logFile };
}

/** runtime.json's runtime when its process is alive and it answers with the token it wrote. */
async function answeringRuntime(dataDir: string): Promise<RuntimeInfo | undefined> {
  const info = liveRuntimeInfo(dataDir);
  if (!info) return undefined;
  try {
    await new KilnClient(info).health({ signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    return info;
  } catch {
    return undefined;
  }
}

interface StartedRuntime {
  pid: number | undefined;
  /** Where this start's output begins in the log, so a failure quotes only its own lines. */
  logOffset: number;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  failure?: Error;
}

function startDetached(options: EnsureRuntimeOptions, logFile: string): StartedRuntime {
  const args = [options.runtimeScript, ...runtimeArguments(options)];

  const log = openSync(logFile, 'a', 0o600);
  const logOffset = fstatSync(log).size;
  writeSync(log, `--- ${new Date().toISOString()} starting the Kiln runtime: ${args.join(' ')}\n`);
  const nodePath = options.nodePath ?? process.execPath;
  const child = spawn(nodePath, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: options.env ?? process.env,
    windowsHide: true,
  });
  closeSync(log);
  const started: StartedRuntime = { pid: child.pid, logOffset };
  child.on('exit', (code, signal) => { started.exit = { code, signal }; });
  child.on('error', (error) => { started.failure = error; });
  child.unref();
  return started;
}

function exitedError(exit: NonNullable<StartedRuntime['exit']>, dataDir: string, logFile: string, logOffset: number): RuntimeStartError {
  const holder = liveRuntimeInfo(dataDir);
  // Exit 0 without a runtime answering: another runtime holds the data directory but does not answer.
  if (exit.code === 0 && holder) {
    return new RuntimeStartError(
      `a Kiln runtime (pid ${holder.pid}) holds ${dataDir} but does not answer at ${holder.url}: ` +
      `stop that process, or use another --data-dir`, logFile);
  }
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return new RuntimeStartError(`the Kiln runtime ${how} while starting. The end of ${logFile}:\n${logTail(logFile, logOffset)}`, logFile);
}

function logTail(logFile: string, offset: number): string {
  let text: string;
  try {
    text = readFileSync(logFile).subarray(offset).toString('utf8');
  } catch {
    return '  (the log could not be read)';
  }
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines.slice(-LOG_TAIL_LINES).map((line) => `  ${line}`).join('\n') || '  (the log is empty)';
}
