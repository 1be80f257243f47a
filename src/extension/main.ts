import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand('kiln.showVersion', () =>
    vscode.window.showInformationMessage(`Kiln ${context.extension.packageJSON.version}`)));
}

export function deactivate(): void {}
