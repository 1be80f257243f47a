/**
 * Deploy, from the CodeLens, the editor title, the explorer's context menu, the apps view or the
 * palette: one cancellable progress notification that names each step, the environment's build
 * output in the "Kiln Deploy" output, then a notification with what to do next (open the tester,
 * tail the logs, copy the URL). A failure also shows as a diagnostic at the line it names.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { collectSources, DeployCancelledError, DeployFailedError, KilnApiError } from '../client';
import type { AppDetail, DeployEvent } from '../shared/api';
import type { AppTarget } from '../shared/protocol';
import { runtimePython } from './config';
import type { KilnContext } from './ctx';
import { type ResolvedEndpoint, resolveApp, resolveEndpoint, saveIfDirty } from './targets';

const STEP_TITLES: Record<string, string> = {
  validate: 'Checking the configuration',
  environment: 'Preparing the Python environment',
  inspect: 'Importing the app',
  'starting-runner': 'Starting a runner',
  setup: 'Running setup()',
  health: 'Checking health',
  live: 'Switching traffic',
};

export interface DeployOutcome {
  app?: AppDetail;
  error?: string;
}

export function registerDeploy(ctx: KilnContext): void {
  ctx.registerCommand('kiln.deploy', async (argument?: unknown) => {
    const target = await resolveApp(ctx, argument, 'deploy');
    return target && deployApp(ctx, target);
  });
  trackEditorApps(ctx);
}

/** Keeps `kiln.editorHasApp` true while the active editor's file defines a fal.App: the editor title's Deploy shows only then. */
function trackEditorApps(ctx: KilnContext): void {
  let timer: NodeJS.Timeout | undefined;
  let shown: boolean | undefined;
  const update = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const document = vscode.window.activeTextEditor?.document;
      const hasApp = document?.languageId === 'python' && document.uri.scheme === 'file'
        ? (await ctx.documentApps(document.uri).catch(() => [])).length > 0 : false;
      // Typing rarely changes the answer: the workbench is told only when it does.
      if (hasApp === shown) return;
      shown = hasApp;
      void vscode.commands.executeCommand('setContext', 'kiln.editorHasApp', hasApp);
    }, 300);
  };
  ctx.subscribe(
    vscode.window.onDidChangeActiveTextEditor(update),
    vscode.workspace.onDidChangeTextDocument(({ document }) => { if (document === vscode.window.activeTextEditor?.document) update(); }),
    { dispose: () => clearTimeout(timer) },
  );
  update();
}

export async function deployApp(ctx: KilnContext, target: AppTarget): Promise<DeployOutcome> {
  const uri = vscode.Uri.parse(target.uri);
  await saveIfDirty(uri);
  const sources = collectSources(uri.fsPath);
  const python = runtimePython();
  const log = ctx.deployLog;
  log.appendLine(`\n${new Date().toLocaleTimeString()}  Deploying ${target.className} from ${vscode.workspace.asRelativePath(uri)} ` +
    `(${Object.keys(sources.files).length} file(s))`);

  return vscode.window.withProgress({
    location: vscode.ProgressLocation.Notification,
    title: `Deploying ${target.appName}`,
    cancellable: true,
  }, async (progress, cancellation) => {
    const abort = new AbortController();
    cancellation.onCancellationRequested(() => abort.abort());
    const onEvent = (event: DeployEvent) => {
      if (event.type === 'step') {
        progress.report({ message: `${STEP_TITLES[event.step] ?? event.step}: ${event.message}` });
        log.appendLine(`→ ${STEP_TITLES[event.step] ?? event.step}: ${event.message}`);
      } else if (event.type === 'log') {
        log.appendLine(`    ${event.text}`);
      } else if (event.type === 'warning') {
        log.appendLine(`! ${event.message}`);
        void vscode.window.showWarningMessage(`${target.appName}: ${event.message}`);
      }
    };
    try {
      const app = await ctx.connection.run((client) => client.deploy({
        ...sources,
        className: target.className,
        ...(python ? { python } : {}),
      }, { onEvent, signal: abort.signal }));
      log.appendLine(`✓ ${app.name} revision ${app.revision} is live at ${app.url}`);
      ctx.output.info(`${app.name} revision ${app.revision} is live at ${app.url}`);
      ctx.sources.remember(target, app.name);
      ctx.deployDiagnostics.clear(sourceUris(uri, sources.files));
      void announce(app);
      return { app };
    } catch (error) {
      return { error: await reportFailure(ctx, error, uri) };
    }
  });
}

/** The app's uploaded files as URIs (the entry's folder holds them all). */
function sourceUris(entry: vscode.Uri, files: Record<string, string>): vscode.Uri[] {
  const folder = path.dirname(entry.fsPath);
  return Object.keys(files).map((file) => vscode.Uri.file(path.join(folder, file)));
}

/** Says the app is live and offers the next steps. */
async function announce(app: AppDetail): Promise<void> {
  const choice = await vscode.window.showInformationMessage(`${app.name} revision ${app.revision} is live at ${app.url}`,
    'Open Tester', 'Tail Logs', 'Copy URL');
  if (choice === 'Open Tester') await vscode.commands.executeCommand('kiln.openTester', { app: app.name });
  if (choice === 'Tail Logs') await vscode.commands.executeCommand('kiln.tailLogs', { app: app.name });
  if (choice === 'Copy URL') await vscode.commands.executeCommand('kiln.copyUrl', { app: app.name });
}

async function reportFailure(ctx: KilnContext, error: unknown, uri: vscode.Uri): Promise<string> {
  const log = ctx.deployLog;
  if (error instanceof DeployCancelledError) {
    log.appendLine('✗ Deploy cancelled; the previous revision keeps serving.');
    return 'cancelled';
  }
  if (!(error instanceof DeployFailedError)) {
    log.appendLine(`✗ Deploy failed: ${(error as Error).message}`);
    throw error;
  }
  const { error: failure, step } = error;
  const where = failure.file ? ` (${failure.file}${failure.line ? `:${failure.line}` : ''})` : '';
  const message = `Deploy failed at ${step ?? 'deploy'}${where}: ${failure.message}`;
  log.appendLine(`✗ ${message}`);
  for (const problem of failure.problems ?? []) log.appendLine(`    line ${problem.line ?? '?'}: ${problem.severity} ${problem.code} ${problem.message}`);
  ctx.output.error(message);
  const file = await ctx.deployDiagnostics.show(failure, step, uri);
  const actions = file ? ['Go to Error', 'Show Build Log'] : ['Show Build Log'];
  void vscode.window.showErrorMessage(message, ...actions).then(async (choice) => {
    if (choice === 'Show Build Log') log.show(true);
    const line = failure.line ?? failure.problems?.find((problem) => problem.line)?.line;
    if (choice === 'Go to Error' && file && line) {
      await vscode.window.showTextDocument(file, { selection: new vscode.Range(line - 1, 0, line - 1, 0) });
    }
  });
  return message;
}

/**
 * Whether the target's app is deployed; when it is not, offers to deploy it first (`action`
 * names what happens after) and says whether that deploy went live.
 */
async function deployedOrOffered(ctx: KilnContext, target: AppTarget, action: string): Promise<boolean> {
  const deployed = await ctx.connection.run((client) => client.getApp(target.appName)).then(() => true, (error: unknown) => {
    if (error instanceof KilnApiError && error.status === 404) return false;
    throw error;
  });
  if (deployed) return true;
  const choice = await vscode.window.showInformationMessage(`${target.appName} is not deployed yet.`, action);
  return choice === action && (await deployApp(ctx, target)).app !== undefined;
}

/**
 * The endpoint a command calls (see resolveEndpoint), with its app's name; for an endpoint in an
 * editor whose app is not deployed, a deploy is offered first (`action` names the button).
 * Undefined when the user dismissed the choice or declined the deploy.
 */
export async function deployedEndpoint(ctx: KilnContext, argument: unknown, action: string): Promise<{ app: string; endpoint: ResolvedEndpoint } | undefined> {
  const endpoint = await resolveEndpoint(ctx, argument, 'invoke');
  if (!endpoint) return undefined;
  if ('uri' in endpoint && !(await deployedOrOffered(ctx, endpoint, action))) return undefined;
  return { app: 'appName' in endpoint ? endpoint.appName : endpoint.app, endpoint };
}
