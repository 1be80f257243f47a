/**
 * Choosing and starting the runtime: "Kiln: Connect to Runtime…" (the bundled one, or a remote
 * one by URL with its token kept in secret storage), "Kiln: Start Runtime" and "Kiln: Show
 * Runtime Log", the fixes the status item and the errors offer.
 */
import * as vscode from 'vscode';
import type { KilnContext } from './ctx';

export function registerRuntimeCommands(ctx: KilnContext): void {
  const { connection } = ctx;
  ctx.registerCommand('kiln.startRuntime', async () => {
    const client = await connection.startBundled();
    vscode.window.setStatusBarMessage(`$(flame) Kiln runtime at ${client.url}`, 3000);
    return client.url;
  });

  ctx.registerCommand('kiln.showRuntimeLog', async () => {
    const file = connection.runtimeLogFile();
    if (!file) throw new Error('the runtime is remote: its log is on its own machine (`kiln runtime status` there says where)');
    await vscode.window.showTextDocument(file, { preview: true });
  });

  /** With `{ url, token }` it connects without asking (scripts, tests); `{ bundled: true }` goes back to the bundled runtime. */
  ctx.registerCommand('kiln.connectRuntime', async (given?: { url?: string; token?: string; bundled?: boolean }) => {
    let choice: 'bundled' | 'remote' | undefined = given?.bundled ? 'bundled' : given?.url ? 'remote' : undefined;
    if (!choice) {
      const picked = await vscode.window.showQuickPick([
        { label: '$(server-process) Bundled runtime', description: 'on this machine, started with VS Code', choice: 'bundled' as const },
        { label: '$(remote) Remote runtime…', description: 'a Kiln runtime on another machine (a GPU server), by URL and token', choice: 'remote' as const },
      ], { title: 'Connect Kiln to which runtime?' });
      choice = picked?.choice;
    }
    if (choice === 'bundled') {
      await connection.useBundled();
      return connection.startBundled().then((client) => client.url);
    }
    if (choice !== 'remote') return undefined;
    const url = given?.url ?? await vscode.window.showInputBox({
      title: 'Connect to a remote runtime (1/2): URL',
      prompt: 'Where the runtime listens, as `kiln runtime status` on that machine shows it',
      placeHolder: 'http://gpu-server:8411',
      ignoreFocusOut: true,
      validateInput: (value) => (/^https?:\/\/[^\s/]+/.test(value.trim()) ? undefined : 'Enter an http:// or https:// URL'),
    });
    if (!url) return undefined;
    const token = given?.token ?? await vscode.window.showInputBox({
      title: 'Connect to a remote runtime (2/2): token',
      prompt: "The runtime's token (in its runtime.json). Kept in VS Code's secret storage, never in settings.",
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() ? undefined : 'The runtime refuses every call without its token'),
    });
    if (!token) return undefined;
    const health = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Connecting to ${url}` },
      () => connection.connectRemote(url, token.trim()).catch((error: Error) => {
        throw new Error(`could not connect to ${url}: ${error.message}`);
      }));
    vscode.window.setStatusBarMessage(`$(remote) Connected to the Kiln runtime ${health.version} at ${url}`, 5000);
    return url;
  });
}
