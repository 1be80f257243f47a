/**
 * One object owns everything the extension holds: the language client, the output channel, the
 * runtime connection and the model of what it serves, and the commands. Commands are registered
 * once and keep working (or say why not) while the language server restarts or the runtime is
 * away. Each feature lives in a room of its own (features.ts lists them) and registers itself here.
 */
import { setTimeout as delay } from 'node:timers/promises';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { DOCUMENT_APPS_REQUEST, type DocumentApp, type DocumentAppsParams, SETTINGS_NOTIFICATION } from '../shared/protocol';
import { affectsRuntime, affectsServer, serverSettings } from './config';
import { RuntimeConnection, RuntimeUnavailableError } from './connection';
import { DeployDiagnostics } from './deployDiagnostics';
import { FEATURES } from './features';
import { createLanguageClient } from './languageClient';
import { RuntimeModel } from './model';
import { AppSources, PythonFileInView } from './targets';

/** How long closing the window waits for what cleans up over the network. */
const DISPOSE_WAIT_MS = 3_000;

export class KilnContext implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel('Kiln', { log: true });
  /** Deploys' steps and the build output of pip, the import and setup(), one deploy after another. */
  readonly deployLog = vscode.window.createOutputChannel('Kiln Deploy');
  /** Failed deploys, at the lines they name; deploys and hot reload share them. */
  readonly deployDiagnostics = new DeployDiagnostics();
  readonly connection: RuntimeConnection;
  readonly model: RuntimeModel;
  /** Which file each app deployed from this workspace came from. */
  readonly sources: AppSources;
  /** The Python file a command given no target acts on. */
  readonly pythonFile = new PythonFileInView();
  private client: LanguageClient | undefined;
  private clientStarting: Promise<void> | undefined;
  private readonly disposables: vscode.Disposable[] = [this.output, this.deployLog, this.deployDiagnostics, this.pythonFile];

  constructor(readonly extension: vscode.ExtensionContext) {
    this.connection = new RuntimeConnection(extension, this.output);
    this.model = new RuntimeModel(this.connection, this.output);
    this.sources = new AppSources(extension.workspaceState);
    this.disposables.push(this.connection, this.model);
  }

  async start(): Promise<void> {
    this.registerCommand('kiln.showVersion', () =>
      vscode.window.showInformationMessage(`Kiln ${this.extension.extension.packageJSON.version}`));
    this.registerCommand('kiln.showOutput', () => this.output.show());
    this.registerCommand('kiln.restartServer', () => this.restartServer());
    for (const register of FEATURES) register(this);
    this.subscribe(vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsServer(event)) void this.client?.sendNotification(SETTINGS_NOTIFICATION, serverSettings());
      if (affectsRuntime(event)) this.connection.settingsChanged();
    }));
    // The language server starts in the background: activation (and every command) is ready
    // before it is, and whatever needs it waits for it (documentApps).
    void this.startServer().catch((error: unknown) => this.output.error(`The Kiln language server did not start: ${(error as Error).message}`));
  }

  subscribe(...disposables: vscode.Disposable[]): void {
    this.disposables.push(...disposables);
  }

  /** Per-workspace storage that outlives VS Code restarts. */
  get memento(): vscode.Memento {
    return this.extension.workspaceState;
  }

  /**
   * Registers a command whose failures are told to the user: a notification (with the action
   * that fixes a runtime that is away) and the output, never only a console.
   */
  registerCommand(id: string, run: (...args: any[]) => unknown): void {
    this.disposables.push(vscode.commands.registerCommand(id, (...args: unknown[]) => this.reportErrors(() => Promise.resolve(run(...args)))));
  }

  private async reportErrors<T>(run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      const message = (error as Error).message;
      this.output.error(message);
      const fix = error instanceof RuntimeUnavailableError ? error.fix : undefined;
      const actions = fix ? [fix.title, 'Show Output'] : ['Show Output'];
      void vscode.window.showErrorMessage(`Kiln: ${message}`, ...actions).then((choice) => {
        if (choice === 'Show Output') this.output.show();
        else if (fix && choice === fix.title) void vscode.commands.executeCommand(fix.command, ...(fix.arguments ?? []));
      });
      return undefined;
    }
  }

  /** The fal.Apps of a document, as the language server reads them (it opens the file if it must). */
  async documentApps(uri: vscode.Uri): Promise<DocumentApp[]> {
    const document = await vscode.workspace.openTextDocument(uri);
    if (document.languageId !== 'python') return [];
    await this.clientStarting?.catch(() => undefined);
    if (!this.client?.isRunning()) throw new Error('the Kiln language server is not running: run "Kiln: Restart Language Server" (the Kiln output says why it stopped)');
    const params: DocumentAppsParams = { uri: this.client.code2ProtocolConverter.asUri(document.uri) };
    return this.client.sendRequest<DocumentApp[]>(DOCUMENT_APPS_REQUEST, params);
  }

  private async startServer(): Promise<void> {
    this.client = createLanguageClient(this.extension, this.output);
    this.clientStarting = this.client.start();
    await this.clientStarting;
  }

  private async restartServer(): Promise<void> {
    await this.client?.stop();
    await this.startServer();
  }

  /**
   * Disposes the last registered first, so what a feature writes as it stops (to the outputs,
   * registered first) still has somewhere to go; a dispose that cleans up over the network (hot
   * reload deleting its dev copies) is waited for, within DISPOSE_WAIT_MS in all.
   */
  async dispose(): Promise<void> {
    await this.client?.stop();
    const waited = delay(DISPOSE_WAIT_MS, undefined, { ref: false });
    for (const disposable of [...this.disposables].reverse()) {
      const disposed = (async () => disposable.dispose() as unknown)();
      await Promise.race([disposed.catch((error: unknown) => this.output.error(`Closing Kiln: ${(error as Error).message}`)), waited]);
    }
  }
}
