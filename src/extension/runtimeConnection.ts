/**
 * The runtime the extension talks to: KILN_URL and KILN_TOKEN when both are set (any runtime,
 * local or remote), else the bundled one for this user's data directory, found or started with
 * VS Code's own Node. The extension never loads the runtime's code: it spawns the bundle and
 * speaks HTTP, exactly as it would to a remote GPU server.
 */
import type * as vscode from 'vscode';
import { ensureRuntime, KilnClient, locateRuntime, RuntimeUnreachableError } from '../client';
import { defaultDataDir } from '../shared/dataDir';
import { runtimePython } from './config';

export class RuntimeConnection {
  private connecting: Promise<KilnClient> | undefined;

  constructor(private readonly extension: vscode.ExtensionContext, private readonly output: vscode.LogOutputChannel) {}

  /** A client for a runtime that answers, starting the bundled one when none runs. */
  client(): Promise<KilnClient> {
    this.connecting ??= this.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
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
      if (!(error instanceof RuntimeUnreachableError) || !error.neverSent) throw error;
      this.connecting = undefined;
      this.output.warn(`The runtime stopped answering (${error.message}); finding or starting it again.`);
      return call(await this.client());
    }
  }

  private async connect(): Promise<KilnClient> {
    const dataDir = defaultDataDir();
    const located = locateRuntime({ dataDir });
    if (located?.source === 'env') {
      this.output.info(`Using the runtime at ${located.url} (KILN_URL).`);
      return new KilnClient(located);
    }
    const python = runtimePython();
    const handle = await ensureRuntime({
      runtimeScript: this.extension.asAbsolutePath('dist/runtime.js'),
      dataDir,
      nodePath: process.execPath,
      // VS Code's executable is Electron; this makes it run the runtime as plain Node.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      ...(python ? { python } : {}),
    });
    this.output.info(handle.started
      ? `Started the Kiln runtime at ${handle.url} (pid ${handle.pid}, data in ${handle.dataDir}, log ${handle.logFile}).`
      : `Using the Kiln runtime at ${handle.url} (pid ${handle.pid}).`);
    return new KilnClient(handle);
  }
}
