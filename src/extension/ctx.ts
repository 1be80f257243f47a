/**
 * One object owns everything the extension holds: the language client, the output channel and
 * the commands. Commands are registered once and keep working (or say why not) while the
 * language server restarts.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { type AppTarget, COMMANDS, type EndpointTarget, SETTINGS_NOTIFICATION } from '../shared/protocol';
import { affectsServer, serverSettings } from './config';
import { deployApp } from './deployCommand';
import { exportForKubernetes } from './exportCommand';
import { invokeEndpoint, RESPONSE_SCHEME, ResponseDocuments } from './invokeCommand';
import { createLanguageClient } from './languageClient';
import { RuntimeConnection } from './runtimeConnection';

export class KilnContext implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel('Kiln', { log: true });
  private client: LanguageClient | undefined;
  readonly runtime: RuntimeConnection;
  private readonly responses = new ResponseDocuments();
  private readonly disposables: vscode.Disposable[] = [this.output, this.responses];

  constructor(private readonly extension: vscode.ExtensionContext) {
    this.runtime = new RuntimeConnection(extension, this.output);
  }

  async start(): Promise<void> {
    this.registerCommand('kiln.showVersion', () =>
      vscode.window.showInformationMessage(`Kiln ${this.extension.extension.packageJSON.version}`));
    this.registerCommand('kiln.showOutput', () => this.output.show());
    this.registerCommand('kiln.restartServer', () => this.restartServer());
    this.registerCommand(COMMANDS.deploy, (target: AppTarget) => this.reportErrors(() => deployApp(target, this.runtime, this.output)));
    this.registerCommand(COMMANDS.invoke, (target: EndpointTarget, input?: Record<string, unknown>) =>
      this.reportErrors(() => invokeEndpoint(target, input, this.runtime, this.responses, this.output)));
    this.registerCommand('kiln.exportForKubernetes', (target?: AppTarget | vscode.Uri) => this.reportErrors(() => exportForKubernetes(target, this.output)));
    this.disposables.push(vscode.workspace.registerTextDocumentContentProvider(RESPONSE_SCHEME, this.responses));
    this.disposables.push(vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsServer(event)) void this.client?.sendNotification(SETTINGS_NOTIFICATION, serverSettings());
    }));
    await this.startServer();
  }

  private registerCommand(id: string, run: (...args: any[]) => unknown): void {
    this.disposables.push(vscode.commands.registerCommand(id, run));
  }

  /** A command that fails says so in a notification and the output, never only in a console. */
  private async reportErrors<T>(run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (error) {
      const message = (error as Error).message;
      this.output.error(message);
      void vscode.window.showErrorMessage(`Kiln: ${message}`, 'Show Output').then((choice) => choice && this.output.show());
      return undefined;
    }
  }

  private async startServer(): Promise<void> {
    this.client = createLanguageClient(this.extension, this.output);
    await this.client.start();
  }

  private async restartServer(): Promise<void> {
    await this.client?.stop();
    await this.startServer();
  }

  async dispose(): Promise<void> {
    await this.client?.stop();
    this.disposables.forEach((disposable) => disposable.dispose());
  }
}
