/**
 * "Kiln: Run with Hot Reload": a dev copy of the app (NAME-dev) deployed now and again on every
 * save of its file or of a workspace module it imports (src/client/devLoop.ts, which `kiln dev`
 * runs too). A save that breaks the app shows its error at the line and leaves the last good
 * revision serving. A status item says what the copy is doing; clicking it stops hot reload and
 * deletes the copy. Nothing here takes the focus: the first time the copy is live, a
 * notification offers the tester and the logs.
 */
import * as vscode from 'vscode';
import { devCopyName, DevLoop, type DevLoopEvent, formatClock, NoRuntimeError, RuntimeUnreachableError } from '../client';
import { runtimePython } from './config';
import type { KilnContext } from './ctx';
import { resolveApp, saveIfDirty } from './targets';

interface DevSession {
  loop: DevLoop;
  entry: vscode.Uri;
  status: vscode.StatusBarItem;
  announced: boolean;
}

/** The running sessions by dev copy name: one room owns them, the apps view asks. */
const sessions = new Map<string, DevSession>();

/** Whether `app` is a dev copy hot reload runs from this window. */
export function devCopyOf(app: string): boolean {
  return sessions.has(app);
}

export function registerDevMode(ctx: KilnContext): void {
  ctx.registerCommand('kiln.runWithHotReload', async (argument?: unknown) => {
    const target = await resolveApp(ctx, argument, 'run with hot reload');
    if (!target) return undefined;
    const name = devCopyName(target.appName);
    const running = sessions.get(name);
    if (running) {
      running.status.show();
      vscode.window.setStatusBarMessage(`Hot reload of ${name} is already running`, 3000);
      return name;
    }
    const entry = vscode.Uri.parse(target.uri);
    const status = vscode.window.createStatusBarItem(`kiln.dev.${name}`, vscode.StatusBarAlignment.Left, 9);
    status.name = `Kiln Hot Reload: ${name}`;
    status.command = { title: 'Stop Hot Reload', command: 'kiln.stopHotReload', arguments: [name] };
    const session: DevSession = { loop: undefined!, entry, status, announced: false };
    const python = runtimePython();
    session.loop = new DevLoop({
      entryFile: entry.fsPath,
      className: target.className,
      name,
      ...(python ? { python } : {}),
      connect: () => ctx.connection.client(),
      existingClient: () => ctx.connection.existingClient(),
      watch: (files, onChange) => {
        const watched = new Set(files);
        const listener = vscode.workspace.onDidSaveTextDocument((document) => {
          if (watched.has(document.uri.fsPath)) onChange(document.uri.fsPath);
        });
        return { close: () => listener.dispose() };
      },
      onEvent: (event) => report(ctx, session, event),
    });
    sessions.set(name, session);
    void vscode.commands.executeCommand('setContext', 'kiln.hotReloadRunning', true);
    await saveIfDirty(entry);
    await session.loop.start();
    return name;
  });

  ctx.registerCommand('kiln.stopHotReload', async (argument?: unknown) => {
    if (sessions.size === 0) throw new Error('hot reload is not running');
    const name = typeof argument === 'string' ? argument
      : typeof (argument as { app?: unknown } | undefined)?.app === 'string' ? (argument as { app: string }).app
        : sessions.size === 1 ? [...sessions.keys()][0]
          : await vscode.window.showQuickPick([...sessions.keys()], { title: 'Stop hot reload of which app?' });
    const session = name ? sessions.get(name) : undefined;
    if (!session) return undefined;
    session.status.text = `$(loading~spin) ${name}: stopping`;
    try {
      await session.loop.stop();
    } catch (error) {
      if (error instanceof NoRuntimeError || error instanceof RuntimeUnreachableError) {
        throw new Error(`stopped hot reload, but no runtime runs to delete ${name} from: it comes back with the runtime (delete it from the Kiln view then)`);
      }
      throw error;
    } finally {
      sessions.delete(name!);
      session.status.dispose();
      void vscode.commands.executeCommand('setContext', 'kiln.hotReloadRunning', sessions.size > 0);
    }
    return name;
  });

  // The window closes: each copy is deleted if the runtime is there to ask (KilnContext.dispose
  // waits a little for that), and no runtime is started for it.
  ctx.subscribe({
    dispose: () => Promise.all([...sessions.values()].map(async (session) => {
      await session.loop.stop().catch((error: unknown) => ctx.output.warn(`${session.loop.name} was not deleted: ${(error as Error).message}`));
      session.status.dispose();
    })),
  });
}

function report(ctx: KilnContext, session: DevSession, event: DevLoopEvent): void {
  const { status, loop } = session;
  const name = loop.name;
  const log = ctx.deployLog;
  status.backgroundColor = undefined;
  switch (event.type) {
    case 'deploying':
      status.text = `$(sync~spin) ${name}: deploying`;
      status.tooltip = event.changed ? `${vscode.workspace.asRelativePath(event.changed)} changed` : 'Deploying the dev copy';
      status.show();
      log.appendLine(`\n${formatClock(new Date().toISOString())}  Hot reload of ${name}${event.changed ? `: ${vscode.workspace.asRelativePath(event.changed)} changed` : ''}`);
      break;
    case 'progress':
      if (event.event.type === 'log') log.appendLine(`    ${event.event.text}`);
      else if (event.event.type === 'step') log.appendLine(`→ ${event.event.message}`);
      break;
    case 'live': {
      status.text = `$(flame) ${name} r${event.app.revision}: live in ${Math.round(event.ms)} ms`;
      status.tooltip = `Hot reload: ${event.app.url}, redeployed on every save of ${loop.files().map((file) => vscode.workspace.asRelativePath(file)).join(', ')}. Click to stop it and delete the dev copy.`;
      log.appendLine(`✓ ${name} revision ${event.app.revision} live in ${Math.round(event.ms)} ms`);
      ctx.deployDiagnostics.clear(loop.files().map((file) => vscode.Uri.file(file)));
      if (!session.announced) {
        session.announced = true;
        void vscode.window.showInformationMessage(`Hot reload: ${name} is live at ${event.app.url}; every save redeploys it.`, 'Open Tester', 'Tail Logs')
          .then((choice) => {
            if (choice === 'Open Tester') void vscode.commands.executeCommand('kiln.openTester', { app: name });
            if (choice === 'Tail Logs') void vscode.commands.executeCommand('kiln.tailLogs', { app: name });
          });
      }
      break;
    }
    case 'failed':
      status.text = `$(error) ${name}: deploy failed${event.serving ? ` (r${event.serving} serving)` : ''}`;
      status.tooltip = `${event.error.message}${event.serving ? `\nRevision ${event.serving} keeps serving.` : ''} Fix the file and save again.`;
      status.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      log.appendLine(`✗ ${event.error.message}${event.error.line ? ` (${event.error.file ?? ''}:${event.error.line})` : ''}`);
      void ctx.deployDiagnostics.show(event.error, event.step, session.entry);
      break;
    case 'stopped':
      log.appendLine(`Stopped hot reload of ${name}${event.deleted ? ' and deleted the dev copy' : ''}.`);
      vscode.window.setStatusBarMessage(`$(debug-stop) Stopped hot reload of ${name}`, 4000);
      break;
  }
}
