/**
 * Deploy from a CodeLens: one cancellable progress notification naming each step, then a
 * notification with what to do next. A failure opens the user's file at the line it names.
 */
import * as vscode from 'vscode';
import { collectSources, DeployCancelledError, DeployFailedError } from '../client';
import type { AppDetail, DeployEvent } from '../shared/api';
import { type AppTarget, COMMANDS, type EndpointTarget } from '../shared/protocol';
import { runtimePython } from './config';
import type { RuntimeConnection } from './runtimeConnection';

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

export async function deployApp(target: AppTarget, runtime: RuntimeConnection, output: vscode.LogOutputChannel): Promise<DeployOutcome> {
  const uri = vscode.Uri.parse(target.uri);
  const document = vscode.workspace.textDocuments.find((candidate) => candidate.uri.toString() === target.uri);
  if (document?.isDirty) await document.save();
  const sources = collectSources(uri.fsPath);
  const python = runtimePython();
  output.info(`Deploying ${target.className} from ${uri.fsPath} (${Object.keys(sources.files).length} file(s))`);

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
        output.info(`[${event.step}] ${event.message}`);
      } else if (event.type === 'log') {
        output.info(`  ${event.text}`);
      } else if (event.type === 'warning') {
        output.warn(event.message);
        void vscode.window.showWarningMessage(`${target.appName}: ${event.message}`);
      }
    };
    try {
      const app = await runtime.run((client) => client.deploy({
        ...sources,
        className: target.className,
        ...(python ? { python } : {}),
      }, { onEvent, signal: abort.signal }));
      output.info(`${app.name} revision ${app.revision} is live at ${app.url}`);
      void announce(app, target);
      return { app };
    } catch (error) {
      return { error: await reportFailure(error, uri, output) };
    }
  });
}

/** Says the app is live and offers the next steps: call an endpoint, or read the logs. */
async function announce(app: AppDetail, target: AppTarget): Promise<void> {
  const invokable = app.config.endpoints.filter((endpoint) => !endpoint.isHealth);
  const choice = await vscode.window.showInformationMessage(
    `${app.name} revision ${app.revision} is live at ${app.url}`,
    ...(invokable.length ? ['Invoke'] : []), 'Show Logs',
  );
  if (choice === 'Show Logs') await vscode.commands.executeCommand('kiln.showOutput');
  if (choice !== 'Invoke') return;
  const endpoint = invokable.length === 1 ? invokable[0]
    : (await vscode.window.showQuickPick(invokable.map((candidate) => ({ label: candidate.path, description: candidate.functionName, endpoint: candidate })),
      { title: `Invoke which endpoint of ${app.name}?` }))?.endpoint;
  if (!endpoint) return;
  const endpointTarget: EndpointTarget = { ...target, appName: app.name, path: endpoint.path, parameters: endpoint.parameters };
  await vscode.commands.executeCommand(COMMANDS.invoke, endpointTarget);
}

async function reportFailure(error: unknown, uri: vscode.Uri, output: vscode.LogOutputChannel): Promise<string> {
  if (error instanceof DeployCancelledError) {
    output.info('Deploy cancelled; the previous revision keeps serving.');
    return 'cancelled';
  }
  if (!(error instanceof DeployFailedError)) {
    const message = `Deploy failed: ${(error as Error).message}`;
    output.error(message);
    void vscode.window.showErrorMessage(message, 'Show Output').then((choice) => choice && output.show());
    return message;
  }
  const { error: failure, step } = error;
  const where = failure.file ? ` (${failure.file}${failure.line ? `:${failure.line}` : ''})` : '';
  const message = `Deploy failed at ${step ?? 'deploy'}${where}: ${failure.message}`;
  output.error(message);
  for (const problem of failure.problems ?? []) output.error(`  line ${problem.line ?? '?'}: ${problem.severity} ${problem.code} ${problem.message}`);
  const actions = failure.line ? ['Go to Error', 'Show Output'] : ['Show Output'];
  void vscode.window.showErrorMessage(message, ...actions).then(async (choice) => {
    if (choice === 'Show Output') output.show();
    if (choice === 'Go to Error' && failure.line) {
      const file = failure.file ? vscode.Uri.joinPath(uri, '..', failure.file) : uri;
      const line = failure.line - 1;
      await vscode.window.showTextDocument(file, { selection: new vscode.Range(line, 0, line, 0) });
    }
  });
  return message;
}
