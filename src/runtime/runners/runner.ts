/**
 * Runners: one Python worker process each, behind the RunnerBackend interface so another way of
 * starting them (a cluster) plugs in without touching the scheduler. A Runner speaks the worker
 * protocol: invokes out, results back, matched by request id.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { RunnerInfo, RunnerState, StartMode } from '../../shared/api';
import { encodeFrame, FrameDecoder } from './frames';
import { type InvokeResult, type RuntimeMessage, type SourceError, type WorkerMessage, workerMessageProblem } from './workerProtocol';

export interface RunnerLaunch {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** The command is a wrapper (bubblewrap) that exits 128+N when the worker is killed by signal N. */
  exitCodeCarriesSignal?: boolean;
}

/** A started worker: frames both ways, its output line by line, and its end. */
export interface RunnerProcess {
  readonly pid: number | null;
  send(message: RuntimeMessage): void;
  onMessage(listener: (message: WorkerMessage) => void): void;
  onOutput(listener: (stream: 'stdout' | 'stderr', line: string) => void): void;
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

export interface RunnerBackend {
  start(launch: RunnerLaunch): RunnerProcess;
}

/** A log record is one line; a runaway line without newlines is cut into pieces this long. */
const MAX_LINE = 16 * 1024;

/** Cuts a byte stream into lines, whatever the chunks: a worker's stdout or stderr. */
export class LineSplitter {
  private pending = '';
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Uint8Array): void {
    this.pending += this.decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      this.emit(this.pending.slice(0, newline).replace(/\r$/, ''));
      this.pending = this.pending.slice(newline + 1);
    }
    while (this.pending.length > MAX_LINE) {
      this.emit(this.pending.slice(0, MAX_LINE));
      this.pending = this.pending.slice(MAX_LINE);
    }
  }

  end(): void {
    this.pending += this.decoder.decode();
    if (this.pending) this.emit(this.pending);
    this.pending = '';
  }
}

function splitLines(stream: Readable, emit: (line: string) => void): void {
  const splitter = new LineSplitter(emit);
  stream.on('data', (chunk: Buffer) => splitter.push(chunk));
  stream.on('end', () => splitter.end());
}

/** What the logs say when a worker's frames are garbled: the app wrote to the runtime's channel. */
export function protocolViolation(problem: string): string {
  return `kiln: the worker sent ${problem} on its protocol channel (fd 4), so it was stopped. Apps must not write to fd 4.`;
}

/** How the worker itself ended, seen through a wrapper that turns its signal into an exit code. */
function workerExit(launch: RunnerLaunch, code: number | null, signal: NodeJS.Signals | null): [number | null, NodeJS.Signals | null] {
  if (!launch.exitCodeCarriesSignal || code === null || code <= 128) return [code, signal];
  const name = Object.entries(osConstants.signals).find(([, number]) => number === code - 128)?.[0] as NodeJS.Signals | undefined;
  return name ? [null, name] : [code, signal];
}

/**
 * Reads a worker's frames, checked: the app runs in that process and can write to its fd 4, so
 * nothing it sends is trusted unread. The first frame that breaks the protocol is reported to
 * `onBreak` once, and nothing after it is read.
 */
export function workerFrames(onMessage: (message: WorkerMessage) => void, onBreak: (problem: string) => void): FrameDecoder {
  let broken = false;
  const breakProtocol = (problem: string) => {
    if (broken) return;
    broken = true;
    onBreak(problem);
  };
  return new FrameDecoder((message) => {
    if (broken) return;
    const problem = workerMessageProblem(message);
    if (problem) breakProtocol(problem);
    else onMessage(message as WorkerMessage);
  }, breakProtocol);
}

/** Workers as child processes of the runtime, talking over inherited pipes on fd 3 and 4. */
export class LocalProcessBackend implements RunnerBackend {
  start(launch: RunnerLaunch): RunnerProcess {
    const child: ChildProcess = spawn(launch.command, launch.args, {
      cwd: launch.cwd,
      env: launch.env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    const toWorker = child.stdio[3] as Writable;
    const fromWorker = child.stdio[4] as Readable;
    const messageListeners: ((message: WorkerMessage) => void)[] = [];
    const protocolErrors: ((problem: string) => void)[] = [];
    const decoder = workerFrames((message) => messageListeners.forEach((listener) => listener(message)), (problem) => {
      protocolErrors.forEach((listener) => listener(problem));
      child.kill('SIGKILL');
    });
    fromWorker.on('data', (chunk: Buffer) => decoder.push(chunk));
    // A worker that dies mid-write breaks the pipe; its exit is what the runner reports.
    toWorker.on('error', () => undefined);
    fromWorker.on('error', () => undefined);
    let exited = false;
    child.on('exit', () => { exited = true; });
    return {
      pid: child.pid ?? null,
      send: (message) => {
        if (!exited && toWorker.writable) toWorker.write(encodeFrame(message));
      },
      onMessage: (listener) => { messageListeners.push(listener); },
      onOutput: (listener) => {
        splitLines(child.stdout!, (line) => listener('stdout', line));
        splitLines(child.stderr!, (line) => listener('stderr', line));
        protocolErrors.push((problem) => listener('stderr', protocolViolation(problem)));
      },
      onExit: (listener) => {
        // 'close' waits for stdio to drain, so no output line arrives after the exit is reported.
        child.on('close', (code, signal) => listener(...workerExit(launch, code, signal)));
        child.on('error', () => listener(null, null));
      },
      kill: (signal = 'SIGTERM') => { if (!exited) child.kill(signal); },
    };
  }
}

export interface ReadyInfo {
  pid: number;
  setupMs: number;
  python: string;
}

export class RunnerStartError extends Error {
  constructor(message: string, readonly phase: string, readonly source: SourceError | null) {
    super(message);
  }
}

export interface RunnerOptions {
  id: string;
  revision: number;
  machineType: string;
  gpus: number[];
  cpuFallback: boolean;
  maxMultiplexing: number;
  start: StartMode;
}

/** What became of a request its runner never answered: the runner went away. */
export interface RunnerDisconnected {
  type: 'disconnected';
  id: string;
  detail: string;
}

export type RunnerReply = InvokeResult | RunnerDisconnected;

type PendingInvoke = (reply: RunnerReply) => void;

/** Why a runner's requests failed: it went away without answering them. */
export function exitDescription(code: number | null, signal: NodeJS.Signals | null): string {
  if (!signal) return `exited with code ${code}`;
  // SIGKILL from nobody in the runtime is most often the kernel's out-of-memory killer.
  return `was killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory, or killed by hand)' : ''}`;
}

export class Runner {
  readonly startedAt = Date.now();
  state: RunnerState = 'starting';
  readyAt: number | null = null;
  inFlight = 0;
  requestsServed = 0;
  /** When the last request finished; the keep_alive clock starts here. */
  idleSince = Date.now();
  exited = false;
  /** Set when the runtime stopped it on purpose, so its exit is not a crash. */
  stopping = false;
  readonly ready: Promise<ReadyInfo>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly pending = new Map<string, PendingInvoke>();

  constructor(readonly options: RunnerOptions, private readonly process: RunnerProcess) {
    let resolveReady!: (info: ReadyInfo) => void;
    let rejectReady!: (error: Error) => void;
    this.ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
    // Callers that only await exit must not see an unhandled rejection from `ready`.
    this.ready.catch(() => undefined);
    process.onMessage((message) => {
      switch (message.type) {
        case 'setup-started':
          if (this.state === 'starting') this.state = 'setup';
          break;
        case 'ready':
          this.readyAt = Date.now();
          this.idleSince = this.readyAt;
          this.state = 'idle';
          resolveReady(message);
          break;
        case 'failed':
          rejectReady(new RunnerStartError(message.error.message, message.phase, message.error));
          break;
        case 'result':
          this.settle(message);
          break;
        default:
          break;
      }
    });
    this.exit = new Promise((resolve) => process.onExit((code, signal) => {
      this.exited = true;
      this.state = 'stopping';
      rejectReady(new RunnerStartError(`The runner ${exitDescription(code, signal)} before it was ready.`, 'exit', null));
      for (const [id, settle] of this.pending) {
        settle({ type: 'disconnected', id, detail: `The runner handling this request ${exitDescription(code, signal)}. Retry the request: a new runner takes it.` });
      }
      this.pending.clear();
      resolve({ code, signal });
    }));
  }

  get id(): string {
    return this.options.id;
  }

  get pid(): number | null {
    return this.process.pid;
  }

  get coldStartMs(): number | null {
    return this.readyAt === null ? null : this.readyAt - this.startedAt;
  }

  get isReady(): boolean {
    return this.readyAt !== null && !this.exited && !this.stopping;
  }

  get hasCapacity(): boolean {
    return this.isReady && this.inFlight < this.options.maxMultiplexing;
  }

  onOutput(listener: (stream: 'stdout' | 'stderr', line: string) => void): void {
    this.process.onOutput(listener);
  }

  invoke(id: string, path: string, input: Record<string, unknown>): Promise<RunnerReply> {
    this.inFlight++;
    this.state = 'busy';
    return new Promise((resolve) => {
      this.pending.set(id, (reply) => {
        this.inFlight--;
        this.requestsServed++;
        if (this.inFlight === 0) {
          this.idleSince = Date.now();
          if (!this.exited && !this.stopping) this.state = 'idle';
        }
        resolve(reply);
      });
      try {
        this.process.send({ type: 'invoke', id, path, input });
      } catch (error) {
        // The input cannot become a frame: this request fails, the runner keeps serving.
        this.settle({ type: 'result', id, ok: false, status: 500, detail: `The input could not be sent to the runner: ${(error as Error).message}`, executionMs: 0 });
      }
    });
  }

  cancel(id: string): void {
    if (this.pending.has(id)) this.process.send({ type: 'cancel', id });
  }

  private settle(result: InvokeResult): void {
    const settle = this.pending.get(result.id);
    if (!settle) return;
    this.pending.delete(result.id);
    settle(result);
  }

  /** Asks the worker to finish its requests and run teardown; kills it if it takes too long. */
  async stop(graceMs: number): Promise<void> {
    if (this.exited) return;
    this.stopping = true;
    this.state = 'stopping';
    this.process.send({ type: 'shutdown', graceMs });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs + 5_000);
    await this.exit;
    clearTimeout(timer);
  }

  kill(): void {
    this.stopping = true;
    this.process.kill('SIGKILL');
  }

  info(): RunnerInfo {
    return {
      id: this.id,
      revision: this.options.revision,
      state: this.state,
      pid: this.pid,
      machineType: this.options.machineType,
      gpus: this.options.gpus,
      cpuFallback: this.options.cpuFallback,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      inFlight: this.inFlight,
      requestsServed: this.requestsServed,
      coldStartMs: this.coldStartMs,
      start: this.options.start,
    };
  }
}
