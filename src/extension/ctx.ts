/**
 * One object owns everything the extension holds: the language client, the output channel and
 * the commands. Commands are registered once and keep working (or say why not) while the
 * language server restarts.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { COMMANDS, SETTINGS_NOTIFICATION } from '../shared/protocol';
import { affectsServer, serverSettings } from './config';
import { createLanguageClient } from './languageClient';

export class KilnContext implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel('Kiln', { log: true });
  private client: LanguageClient | undefined;
  private readonly disposables: vscode.Disposable[] = [this.output];

  constructor(private readonly extension: vscode.ExtensionContext) {}

  async start(): Promise<void> {
    this.registerCommand('kiln.showVersion', () =>
      vscode.window.showInformationMessage(`Kiln ${this.extension.extension.packageJSON.version}`));
    this.registerCommand('kiln.showOutput', () => this.output.show());
    this.registerCommand('kiln.restartServer', () => this.restartServer());
    this.registerCommand(COMMANDS.deploy, () =>
      vscode.window.showWarningMessage('Deploying needs the Kiln runtime, which this version does not include yet.'));
    this.registerCommand(COMMANDS.invoke, () =>
      vscode.window.showWarningMessage('Invoking needs the Kiln runtime, which this version does not include yet.'));
    this.disposables.push(vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsServer(event)) void this.client?.sendNotification(SETTINGS_NOTIFICATION, serverSettings());
    }));
    await this.startServer();
  }

  private registerCommand(id: string, run: (...args: any[]) => unknown): void {
    this.disposables.push(vscode.commands.registerCommand(id, run));
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
