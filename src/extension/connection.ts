/**
 * The runtime the extension talks to, and whether it answers. Which runtime: a remote one by
 * URL (`kiln.runtime.url`, its token in VS Code's secret storage, never in settings), else
 * KILN_URL with KILN_TOKEN, else the bundled runtime of this user's data directory, found or
 * started with VS Code's own Node. The extension never loads the runtime's code: it spawns the
 * bundle and speaks HTTP, exactly as it does to a remote GPU server.
 *
 * From the first time something needs the runtime (the Kiln view, a command, a log tail) it
 * watches the runtime's event stream, so its state (connected, starting, stopped, unreachable)
 * follows the runtime, and everything that shows the runtime refetches when the stream opens
 * again after a restart. While no local runtime runs, it waits for one to write its
 * runtime.json rather than looking again and again.
 */
import { mkdirSync, watch as watchFolder } from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import * as vscode from 'vscode';
import {
  ensureRuntime, followEventsAcrossRestarts, KilnApiError, KilnClient, locateRuntime, NoRuntimeError, RuntimeConfigError, RuntimeStartError,
  RuntimeUnreachableError,
} from '../client';
import type { HealthResponse, RuntimeEventRecord } from '../shared/api';
import { defaultDataDir, runtimeInfoPath } from '../shared/dataDir';
import { normalizeRuntimeUrl, runtimePython, runtimeSettings, setRuntimeUrl } from './config';

/** A command that fixes what keeps the runtime away: shown on the status item and in errors. */
export interface ConnectionFix {
  title: string;
  command: string;
  arguments?: unknown[];
}

export type ConnectionState =
  /** Nothing has needed the runtime yet, so Kiln has not looked for it. */
  | { kind: 'idle' }
  | { kind: 'starting'; what: string }
  | { kind: 'connected'; client: KilnClient; health: HealthResponse; remote: boolean }
  /** The bundled runtime is not running (nothing is wrong; it starts when needed, or on request). */
  | { kind: 'stopped'; reason: string; fix: ConnectionFix }
  | { kind: 'unreachable'; reason: string; fix: ConnectionFix };

/** Why a command cannot reach a runtime, with the command that fixes it. */
export class RuntimeUnavailableError extends Error {
  override readonly name = 'RuntimeUnavailableError';

  constructor(message: string, readonly fix: ConnectionFix) {
    super(message);
  }
}

const START_FIX: ConnectionFix = { title: 'Start Runtime', command: 'kiln.startRuntime' };
const CONNECT_FIX: ConnectionFix = { title: 'Connect to Runtime…', command: 'kiln.connectRuntime' };
const SHOW_LOG_FIX: ConnectionFix = { title: 'Show Runtime Log', command: 'kiln.showRuntimeLog' };
/** How long to wait for a local runtime when its folder cannot be watched. */
const NO_WATCH_RETRY_MS = 2_000;
/** How long to wait before asking a runtime that refused the event stream (an error status) again. */
const REFUSED_RETRY_MS = 10_000;

function tokenKey(url: string): string {
  return `kiln.runtime.token ${url}`;
}

interface Located {
  client: KilnClient;
  remote: boolean;
}

export class RuntimeConnection implements vscode.Disposable {
  private currentState: ConnectionState;
  private readonly stateChanged = new vscode.EventEmitter<ConnectionState>();
  private readonly eventReceived = new vscode.EventEmitter<RuntimeEventRecord>();
  private readonly connected = new vscode.EventEmitter<KilnClient>();
  /** Fires on every state change. */
  readonly onDidChangeState = this.stateChanged.event;
  /** What happens on the runtime, as it streams its events. */
  readonly onDidReceiveEvent = this.eventReceived.event;
  /** The event stream (re)opened: whatever shows the runtime's state reads it afresh. */
  readonly onDidConnect = this.connected.event;
  private watch: AbortController | undefined;
  private starting: Promise<KilnClient> | undefined;
  /** The client of the last successful connection: commands use it until it stops answering. */
  private lastClient: Located | undefined;

  constructor(private readonly extension: vscode.ExtensionContext, private readonly output: vscode.LogOutputChannel) {
    this.currentState = { kind: 'idle' };
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** Follows the runtime from now on, unless that is under way: what needs the runtime calls this first. */
  ensureWatching(): void {
    if (!this.watch) this.watchRuntime();
  }

  /** The settings name another runtime (or another token): follows it, if anything follows one yet. */
  settingsChanged(): void {
    if (this.watch || this.currentState.kind !== 'idle') this.watchRuntime();
  }

  /** Begins following the runtime (again). */
  private watchRuntime(): void {
    this.watch?.abort();
    this.lastClient = undefined;
    // Until the watch finds it, no command may use the runtime it watched before.
    if (!this.starting) this.setState({ kind: 'starting', what: 'Looking for the Kiln runtime…' });
    const watch = new AbortController();
    this.watch = watch;
    // A watch that ended (settings that name no usable runtime) starts again when next needed.
    void this.follow(watch.signal).finally(() => { if (this.watch === watch) this.watch = undefined; });
  }

  /**
   * Follows the runtime's events until `signal` aborts. A runtime that is away is waited for
   * (followEventsAcrossRestarts); one that refuses the stream is asked again after a while, since
   * it may be mended (restarted, upgraded) without anything here changing. Only settings that
   * name a runtime Kiln cannot use end it, until the settings change.
   */
  private async follow(signal: AbortSignal): Promise<void> {
    // A stream that breaks is often back at the first retry (a proxy's idle cut, a runtime
    // restarting on the spot): the state stays connected until a reconnect fails.
    let reconnecting = false;
    while (!signal.aborted) {
      try {
        await followEventsAcrossRestarts((event) => this.eventReceived.fire(event), {
          connect: async () => {
            const located = await this.locate();
            if (!located) throw new NoRuntimeError(defaultDataDir());
            this.lastClient = located;
            return located.client;
          },
          signal,
          waitToRetry: (failure, wait) => (failure instanceof NoRuntimeError ? runtimeInfoWritten(defaultDataDir(), wait) : undefined),
          onState: (state) => {
            if (signal.aborted || state.state === 'connecting') return;
            if (state.state === 'open') {
              reconnecting = false;
              void this.opened(signal);
            } else if (this.currentState.kind === 'connected' && !reconnecting) {
              reconnecting = true;
            } else {
              this.lost(state.reason);
            }
          },
        });
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof RuntimeUnavailableError || error instanceof RuntimeConfigError) {
          this.setState({ kind: 'unreachable', reason: error.message, fix: error instanceof RuntimeUnavailableError ? error.fix : CONNECT_FIX });
          return;
        }
        const { url } = runtimeSettings();
        this.setState({
          kind: 'unreachable',
          reason: `The Kiln runtime${url ? ` at ${url}` : ''} refused its event stream: ${(error as Error).message}`,
          fix: url ? CONNECT_FIX : SHOW_LOG_FIX,
        });
        await delay(REFUSED_RETRY_MS, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /**
   * A client for a runtime that answers. With `kiln.runtime.autoStart` the bundled runtime is
   * started when none runs; otherwise, and for a remote runtime that does not answer, this
   * throws RuntimeUnavailableError saying why and what fixes it.
   */
  async client(): Promise<KilnClient> {
    this.ensureWatching();
    if (this.currentState.kind === 'connected') return this.currentState.client;
    if (this.starting) return this.starting;
    const located = await this.locate();
    if (located) return located.client;
    if (runtimeSettings().autoStart) return this.startBundled();
    throw new RuntimeUnavailableError('No Kiln runtime is running, and kiln.runtime.autoStart is off.', START_FIX);
  }

  /**
   * A client for the runtime that runs now, never starting one: for what follows the runtime in
   * the background (a log tail), which waits for a runtime rather than starting it unasked.
   */
  async existingClient(): Promise<KilnClient> {
    this.ensureWatching();
    if (this.currentState.kind === 'connected') return this.currentState.client;
    const located = await this.locate();
    if (!located) throw new NoRuntimeError(defaultDataDir());
    return located.client;
  }

  /**
   * Runs `call` against the runtime. When the runtime went away meanwhile and the call never
   * reached it, finds or starts a runtime and sends the call once more; a call that may have
   * reached it (a deploy whose stream broke) is not repeated.
   */
  async run<T>(call: (client: KilnClient) => Promise<T>): Promise<T> {
    try {
      return await call(await this.client());
    } catch (error) {
      const stale = (error instanceof RuntimeUnreachableError && error.neverSent) || (error instanceof KilnApiError && error.status === 401);
      if (!stale || runtimeSettings().url) throw this.explain(error);
      this.output.warn(`The runtime stopped answering (${(error as Error).message}); finding or starting it again.`);
      if (this.currentState.kind === 'connected') this.lost((error as Error).message);
      return call(await this.client()).catch((retryError: unknown) => { throw this.explain(retryError); });
    }
  }

  /** Starts the bundled runtime with VS Code's own Node, or finds the one already running. */
  startBundled(): Promise<KilnClient> {
    if (runtimeSettings().url) {
      return Promise.reject(new RuntimeUnavailableError(`Kiln is set to use the remote runtime at ${runtimeSettings().url}.`, CONNECT_FIX));
    }
    this.starting ??= this.launch().finally(() => { this.starting = undefined; });
    return this.starting;
  }

  /**
   * Connects to a remote runtime: checks that it answers with the token, then remembers both. A
   * new URL is a settings change, which follows the runtime anew; the same URL with a new token
   * is not, so that is followed anew here.
   */
  async connectRemote(url: string, token: string): Promise<HealthResponse> {
    const normalized = normalizeRuntimeUrl(url);
    const health = await new KilnClient({ url: normalized, token }).health({ signal: AbortSignal.timeout(10_000) });
    await this.extension.secrets.store(tokenKey(normalized), token);
    if (!(await setRuntimeUrl(normalized))) this.watchRuntime();
    return health;
  }

  /** Goes back to the bundled runtime (the settings change follows it); the remote one's token is forgotten. */
  async useBundled(): Promise<void> {
    const { url } = runtimeSettings();
    if (url) await this.extension.secrets.delete(tokenKey(url));
    await setRuntimeUrl(undefined);
  }

  /** The runtime's log file (the bundled runtime's output); undefined for a remote one. */
  runtimeLogFile(): vscode.Uri | undefined {
    return runtimeSettings().url ? undefined : vscode.Uri.joinPath(vscode.Uri.file(defaultDataDir()), 'runtime.log');
  }

  private async launch(): Promise<KilnClient> {
    this.setState({ kind: 'starting', what: 'Starting the Kiln runtime…' });
    const python = runtimePython();
    try {
      const handle = await ensureRuntime({
        runtimeScript: this.extension.asAbsolutePath('dist/runtime.js'),
        dataDir: defaultDataDir(),
        nodePath: process.execPath,
        // VS Code's executable is Electron; this makes it run the runtime as plain Node.
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        ...(python ? { python } : {}),
      });
      this.output.info(handle.started
        ? `Started the Kiln runtime at ${handle.url} (pid ${handle.pid}, data in ${handle.dataDir}, log ${handle.logFile}).`
        : `Using the Kiln runtime at ${handle.url} (pid ${handle.pid}).`);
      const client = new KilnClient(handle);
      this.lastClient = { client, remote: false };
      // The watch may be waiting out a retry delay: say "connected" now rather than then.
      await this.opened(this.watch?.signal);
      return client;
    } catch (error) {
      const reason = (error as Error).message;
      this.output.error(`The Kiln runtime did not start: ${reason}`);
      this.setState({ kind: 'unreachable', reason: `The runtime did not start: ${reason.split('\n')[0]}`, fix: error instanceof RuntimeStartError ? SHOW_LOG_FIX : START_FIX });
      throw new RuntimeUnavailableError(`The Kiln runtime did not start: ${reason}`, error instanceof RuntimeStartError ? SHOW_LOG_FIX : START_FIX);
    }
  }

  /** The runtime to use now, without starting one; undefined when the bundled one is not running. */
  private async locate(): Promise<Located | undefined> {
    const { url } = runtimeSettings();
    if (url) {
      const token = await this.extension.secrets.get(tokenKey(url));
      if (!token) throw new RuntimeUnavailableError(`No token is stored for the remote runtime at ${url}.`, CONNECT_FIX);
      return { client: new KilnClient({ url, token }), remote: true };
    }
    const location = locateRuntime({ dataDir: defaultDataDir() });
    return location && { client: new KilnClient(location), remote: location.source === 'env' };
  }

  private async opened(signal: AbortSignal | undefined): Promise<void> {
    const located = this.lastClient;
    if (!located) return;
    try {
      const health = await located.client.health({ signal: AbortSignal.timeout(10_000) });
      if (signal?.aborted) return;
      const wasConnected = this.currentState.kind === 'connected' && this.currentState.client === located.client;
      this.setState({ kind: 'connected', client: located.client, health, remote: located.remote });
      if (!wasConnected) this.connected.fire(located.client);
    } catch (error) {
      this.lost((error as Error).message);
    }
  }

  private lost(reason: string): void {
    if (this.starting) return;
    const { url } = runtimeSettings();
    if (url) {
      this.setState({ kind: 'unreachable', reason: `The runtime at ${url} does not answer: ${reason}`, fix: CONNECT_FIX });
    } else if (!locateRuntime({ dataDir: defaultDataDir() })) {
      this.setState({ kind: 'stopped', reason: 'No Kiln runtime is running on this machine.', fix: START_FIX });
    } else {
      this.setState({ kind: 'unreachable', reason: `The Kiln runtime does not answer: ${reason}`, fix: SHOW_LOG_FIX });
    }
  }

  /** An error as the user should read it: a runtime that is away says what fixes that. */
  private explain(error: unknown): unknown {
    if (error instanceof RuntimeUnavailableError || !(error instanceof RuntimeUnreachableError || error instanceof NoRuntimeError)) return error;
    const fix = this.currentState.kind === 'connected' ? START_FIX : 'fix' in this.currentState ? this.currentState.fix : START_FIX;
    return new RuntimeUnavailableError(`The Kiln runtime is not reachable: ${error.message}`, runtimeSettings().url ? CONNECT_FIX : fix);
  }

  private setState(state: ConnectionState): void {
    const sameKind = state.kind === this.currentState.kind;
    const same = sameKind && JSON.stringify(describe(state)) === JSON.stringify(describe(this.currentState));
    this.currentState = state;
    if (!sameKind) void vscode.commands.executeCommand('setContext', 'kiln.connection', state.kind);
    if (!same) this.stateChanged.fire(state);
  }

  dispose(): void {
    this.watch?.abort();
    this.stateChanged.dispose();
    this.eventReceived.dispose();
    this.connected.dispose();
  }
}

/** A state without its client, to tell a real change from the same state said again. */
function describe(state: ConnectionState): unknown {
  return state.kind === 'connected' ? { url: state.client.url, health: state.health.pid } : state;
}

/**
 * Resolves once runtime.json in `dataDir` is written or removed (a runtime started or stopped),
 * or `signal` aborts: a watch on the folder, so waiting for a runtime costs nothing meanwhile.
 */
function runtimeInfoWritten(dataDir: string, signal: AbortSignal): Promise<void> {
  const file = path.basename(runtimeInfoPath(dataDir));
  return new Promise((resolve) => {
    let watcher: ReturnType<typeof watchFolder> | undefined;
    const done = () => {
      watcher?.close();
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    try {
      mkdirSync(dataDir, { recursive: true });
      watcher = watchFolder(dataDir, (_event, name) => { if (name?.toString() === file) done(); });
      // A watch that fails (the folder removed) leaves the next look to the caller.
      watcher.on('error', done);
    } catch {
      // No watch to be had here (say, out of inotify watches): look again after a while.
      setTimeout(done, NO_WATCH_RETRY_MS).unref();
      return;
    }
    // Written between the last look and the watch: look once more.
    if (locateRuntime({ dataDir })) done();
  });
}
