/**
 * The warm template of a revision (src/runtime/python/kiln_harness/template.py): one process
 * that imported the app, and the runners forked from it. A forked runner is a RunnerProcess
 * like a spawned one, so the Runner and the pool do not know the difference; its frames,
 * stdout and stderr come over three connections to this template's own Unix socket, and its
 * exit is reported by the template, its parent.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { reportFault } from '../faults';
import { encodeFrame } from './frames';
import { exitDescription, LineSplitter, protocolViolation, type RunnerProcess, workerFrames } from './runner';
import { hostPidOf } from './sandbox';
import type { InspectedApp, RuntimeMessage, SourceError, TemplateMessage, WorkerMessage } from './workerProtocol';

/** How a template's own output is named in the logs (a runner's name would be its id). */
export function templateId(app: string, revision: number): string {
  return `${app}-r${revision}-template`;
}

/** Whether the app's imports left the template safe to fork, and why not. */
export interface TemplateVerdict {
  forkable: boolean;
  reason: string | null;
}

export interface SnapshotVerdict {
  ok: boolean;
  reason: string | null;
  setupMs: number;
}

/** The template stopped before it answered, or the app failed in it (import, setup). */
export class TemplateError extends Error {
  constructor(message: string, readonly phase: string, readonly source: SourceError | null) {
    super(message);
  }
}

/** A runner's first line on each connection: `KILN-RUNNER <token> <channel>`. */
const HELLO = /^KILN-RUNNER ([0-9a-f]{32}) (frames|stdout|stderr)$/;
const HELLO_MAX_BYTES = 128;
const HELLO_TIMEOUT_MS = 10_000;
/** After the template reports a runner's exit, how long its connections may still drain. */
const OUTPUT_DRAIN_MS = 2_000;

type Channel = 'frames' | 'stdout' | 'stderr';
type ExitListener = (code: number | null, signal: NodeJS.Signals | null) => void;

/** A runner forked from the template, seen from the runtime. */
class ForkedRunnerProcess implements RunnerProcess {
  pid: number | null = null;
  readonly token = randomBytes(16).toString('hex');
  private frames: net.Socket | undefined;
  /** Frames the runtime sent before the runner connected (a shutdown while it starts). */
  private unsent: Buffer[] = [];
  private readonly messageListeners: ((message: WorkerMessage) => void)[] = [];
  private readonly outputListeners: ((stream: 'stdout' | 'stderr', line: string) => void)[] = [];
  private readonly exitListeners: ExitListener[] = [];
  /** Connections not yet closed: the exit is reported once all three came and drained. */
  private readonly openChannels = new Set<net.Socket>();
  private drainOver = false;
  private exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private reported = false;
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly channels = new Set<Channel>();
  private readonly decoder = workerFrames((message) => this.messageListeners.forEach((listener) => listener(message)), (problem) => {
    this.emitOutput('stderr', protocolViolation(problem));
    this.kill('SIGKILL');
  });

  constructor(readonly id: string, private readonly killVia: (signal: NodeJS.Signals) => void) {}

  /** Whether all three of the runner's connections have come. */
  get connected(): boolean {
    return this.channels.size === 3;
  }

  /** Takes one of the runner's connections; false when that channel came already (a token used twice). */
  attach(channel: Channel, socket: net.Socket, rest: Buffer): boolean {
    if (this.channels.has(channel)) return false;
    this.channels.add(channel);
    socket.on('error', () => undefined);
    this.openChannels.add(socket);
    let end = () => undefined as void;
    if (channel === 'frames') {
      this.frames = socket;
      socket.setNoDelay(true);
      if (rest.length) this.decoder.push(rest);
      socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
      for (const frame of this.unsent) socket.write(frame);
      this.unsent = [];
    } else {
      const splitter = new LineSplitter((line) => this.emitOutput(channel, line));
      if (rest.length) splitter.push(rest);
      socket.on('data', (chunk: Buffer) => splitter.push(chunk));
      end = () => splitter.end();
    }
    socket.on('close', () => {
      end();
      this.openChannels.delete(socket);
      this.reportIfDone();
    });
    return true;
  }

  private emitOutput(stream: 'stdout' | 'stderr', line: string): void {
    this.outputListeners.forEach((listener) => listener(stream, line));
  }

  send(message: RuntimeMessage): void {
    if (this.exitStatus) return;
    const frame = encodeFrame(message);
    if (this.frames) this.frames.write(frame);
    else this.unsent.push(frame);
  }

  onMessage(listener: (message: WorkerMessage) => void): void {
    this.messageListeners.push(listener);
  }

  onOutput(listener: (stream: 'stdout' | 'stderr', line: string) => void): void {
    this.outputListeners.push(listener);
  }

  onExit(listener: ExitListener): void {
    this.exitListeners.push(listener);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.exitStatus) this.killVia(signal);
  }

  /** The template saw the runner end (or ended itself): reported once its output has drained. */
  exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitStatus) return;
    this.exitStatus = { code, signal };
    // A runner that died before it connected never will; a process it started may hold its
    // stdout open: the exit does not wait on either for long.
    this.drainTimer = setTimeout(() => {
      this.drainOver = true;
      this.openChannels.forEach((socket) => socket.destroy());
      this.reportIfDone();
    }, OUTPUT_DRAIN_MS);
    this.reportIfDone();
  }

  /**
   * Reports the exit once what the runner said last (a failed frame, its last lines) has been
   * read: its three connections may still be on their way when the template reports the exit.
   */
  private reportIfDone(): void {
    const drained = this.connected && this.openChannels.size === 0;
    if (!this.exitStatus || this.reported || !(drained || this.drainOver)) return;
    this.reported = true;
    clearTimeout(this.drainTimer);
    const { code, signal } = this.exitStatus;
    this.exitListeners.forEach((listener) => listener(code, signal));
  }
}

export interface TemplateOptions {
  /** Shown in the logs as the source of the template's own output. */
  id: string;
  socketPath: string;
  /** The template's process, started by the launcher (in the sandbox, when there is one). */
  start(): RunnerProcess;
  /** Whether that process runs in bubblewrap's process namespace (runner pids need translating). */
  sandboxed: boolean;
  onOutput(stream: 'stdout' | 'stderr', line: string): void;
}

export class TemplateProcess {
  readonly id: string;
  /** The first answer: the app's classes, configuration and endpoint schemas. */
  readonly inspected: Promise<InspectedApp[]>;
  /** Whether runners may be forked from it. */
  readonly verdict: Promise<TemplateVerdict>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited = false;
  private process: RunnerProcess | undefined;
  private readonly server: net.Server;
  private readonly runners = new Map<string, ForkedRunnerProcess>();
  private readonly byToken = new Map<string, ForkedRunnerProcess>();
  private snapshotWaiter: { resolve(verdict: SnapshotVerdict): void; reject(error: TemplateError): void } | undefined;
  private failure: TemplateError | undefined;
  /** The template's own pid on the host (the process its runners are forked from). */
  private hostPid: number | null = null;
  private resolveInspected!: (apps: InspectedApp[]) => void;
  private resolveVerdict!: (verdict: TemplateVerdict) => void;
  private rejectAll!: (error: TemplateError) => void;
  private readonly onExit: (status: { code: number | null; signal: NodeJS.Signals | null }) => void;

  private constructor(private readonly options: TemplateOptions) {
    this.id = options.id;
    const rejections: ((error: TemplateError) => void)[] = [];
    this.inspected = new Promise((resolve, reject) => { this.resolveInspected = resolve; rejections.push(reject); });
    this.verdict = new Promise((resolve, reject) => { this.resolveVerdict = resolve; rejections.push(reject); });
    // Whoever only waits for one of them must not see the other's rejection as unhandled.
    this.inspected.catch(() => undefined);
    this.verdict.catch(() => undefined);
    this.rejectAll = (error) => rejections.forEach((reject) => reject(error));
    let resolveExit!: (status: { code: number | null; signal: NodeJS.Signals | null }) => void;
    this.exit = new Promise((resolve) => { resolveExit = resolve; });
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.on('error', () => undefined);
    this.exit.then(() => new Promise<void>((resolve) => this.server.close(() => resolve())))
      .then(() => rmSync(options.socketPath, { force: true }))
      .catch((error: unknown) => reportFault(`closing the socket of template ${options.id}`, error));
    this.onExit = resolveExit;
  }

  /** Listens on the template's socket, then starts its process. */
  static async start(options: TemplateOptions): Promise<TemplateProcess> {
    const template = new TemplateProcess(options);
    rmSync(options.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      template.server.once('error', reject);
      template.server.listen(options.socketPath, () => {
        template.server.off('error', reject);
        resolve();
      });
    });
    template.spawn();
    return template;
  }

  get pid(): number | null {
    return this.process?.pid ?? null;
  }

  private spawn(): void {
    const process = this.options.start();
    this.process = process;
    process.onMessage((message) => this.handle(message as TemplateMessage));
    process.onOutput((stream, line) => this.options.onOutput(stream, line));
    process.onExit((code, signal) => {
      this.exited = true;
      const error = this.failure ?? new TemplateError(`The template process ${exitDescription(code, signal)} before it answered.`, 'exit', null);
      this.rejectAll(error);
      this.settleSnapshot();
      // Its runners end with it (its process namespace, or their parent-death signal).
      for (const runner of this.runners.values()) runner.exited(null, signal ?? 'SIGKILL');
      this.runners.clear();
      this.byToken.clear();
      this.onExit({ code, signal });
    });
  }

  private handle(message: TemplateMessage): void {
    switch (message.type) {
      case 'inspect':
        this.resolveInspected(message.apps);
        break;
      case 'template':
        // In the sandbox's process namespace the template is bubblewrap's grandchild.
        this.hostPid = this.options.sandboxed ? hostPidOf(this.pid, message.pid, 2) : message.pid;
        this.resolveVerdict({ forkable: message.forkable, reason: message.reason });
        break;
      case 'snapshot':
        this.snapshotWaiter?.resolve({ ok: message.ok, reason: message.reason, setupMs: message.setupMs });
        this.snapshotWaiter = undefined;
        break;
      case 'forked': {
        const runner = this.runners.get(message.runner);
        if (runner) runner.pid = this.options.sandboxed ? hostPidOf(this.hostPid, message.pid, 1) : message.pid;
        break;
      }
      case 'runner-exit': {
        const runner = this.runners.get(message.runner);
        if (!runner) break;
        this.runners.delete(message.runner);
        // Its token stays valid until the exit is reported: its last connections may still come.
        runner.exited(message.code, message.signal);
        break;
      }
      case 'failed':
        this.failure = new TemplateError(message.error.message, message.phase, message.error);
        break;
      default:
        break;
    }
  }

  /**
   * Runs setup() in the template, so runners forked afterwards start with it done. Resolves
   * with whether the process is still safe to fork; rejects with the app's own failure.
   */
  snapshot(): Promise<SnapshotVerdict> {
    return new Promise((resolve, reject) => {
      this.snapshotWaiter = { resolve, reject };
      if (this.exited) this.settleSnapshot();
      else this.process!.send({ type: 'snapshot' });
    });
  }

  /** A template that ended while a snapshot was asked of it: the app's failure, or no snapshot. */
  private settleSnapshot(): void {
    const waiter = this.snapshotWaiter;
    this.snapshotWaiter = undefined;
    if (!waiter) return;
    if (this.failure) waiter.reject(this.failure);
    else waiter.resolve({ ok: false, reason: 'the template stopped before its setup() finished', setupMs: 0 });
  }

  /** A runner forked from the template, with `env` applied over the template's environment. */
  fork(id: string, env: Record<string, string>): RunnerProcess {
    const runner = new ForkedRunnerProcess(id, (signal) => this.process!.send({ type: 'kill', runner: id, signal }));
    if (this.exited) {
      setImmediate(() => runner.exited(null, null));
      return runner;
    }
    this.runners.set(id, runner);
    this.byToken.set(runner.token, runner);
    runner.onExit(() => this.byToken.delete(runner.token));
    this.process!.send({ type: 'fork', runner: id, token: runner.token, socket: this.options.socketPath, env });
    return runner;
  }

  /** Stops the template; runners forked from it end with it, so stop them first. */
  stop(): void {
    if (!this.exited) this.process?.send({ type: 'shutdown', graceMs: 0 });
  }

  kill(): void {
    this.process?.kill('SIGKILL');
  }

  /** A connection to the socket: one of a runner's three channels, named by its first line. */
  private accept(socket: net.Socket): void {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    socket.on('error', () => undefined);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const newline = received.indexOf(0x0a);
      if (newline < 0) {
        if (received.length > HELLO_MAX_BYTES) socket.destroy();
        return;
      }
      clearTimeout(timer);
      socket.off('data', onData);
      const match = HELLO.exec(received.subarray(0, newline).toString('latin1'));
      const runner = match ? this.byToken.get(match[1]!) : undefined;
      if (!runner || !runner.attach(match![2] as Channel, socket, received.subarray(newline + 1))) {
        socket.destroy();
        return;
      }
      // Each token opens three connections, once.
      if (runner.connected) this.byToken.delete(match![1]!);
    };
    socket.on('data', onData);
  }
}
