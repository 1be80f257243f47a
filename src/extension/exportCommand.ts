/**
 * "Kiln: Export for Kubernetes…": `kiln export` from the editor. Asks the target and the image,
 * writes the folder into the workspace (kiln-export/NAME-TARGET), checks the manifests against
 * the schemas, lists what did not map in the output, and opens the export's README.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import { loadExporter } from '../export/load';
import type { ExportTarget } from '../export/mapping';
import type { AppTarget } from '../shared/protocol';
import type { KilnContext } from './ctx';
import { saveIfDirty } from './targets';

const TARGETS: (vscode.QuickPickItem & { target: ExportTarget })[] = [
  { label: 'Knative Serving', target: 'knative', detail: 'A serving.knative.dev/v1 Service: scale to zero, concurrency-based autoscaling, revisions' },
  { label: 'Kubernetes', target: 'kubernetes', detail: 'A Deployment, a Service and a HorizontalPodAutoscaler, for clusters without Knative' },
];

/** The app to export: a CodeLens's target, a file chosen in the explorer, or the active editor's file. */
function appFile(target: AppTarget | vscode.Uri | undefined): { uri: vscode.Uri; className?: string } | undefined {
  if (target instanceof vscode.Uri) return { uri: target };
  if (target) return { uri: vscode.Uri.parse(target.uri), className: target.className };
  const document = vscode.window.activeTextEditor?.document;
  return document?.languageId === 'python' ? { uri: document.uri } : undefined;
}

export async function exportForKubernetes(target: AppTarget | vscode.Uri | undefined, output: vscode.LogOutputChannel): Promise<string | undefined> {
  const app = appFile(target);
  if (!app || app.uri.scheme !== 'file') throw new Error('Open the fal.App file to export (a Python file on disk), then run Export for Kubernetes again.');
  await saveIfDirty(app.uri);
  const picked = await vscode.window.showQuickPick(TARGETS, { title: 'Kiln: Export for Kubernetes', placeHolder: 'What will run the app?' });
  if (!picked) return undefined;
  const image = await vscode.window.showInputBox({
    title: 'Kiln: Export for Kubernetes',
    prompt: 'The image the manifests run, in a registry your cluster pulls from (empty: NAME:latest)',
    placeHolder: 'registry.example.com/team/app:1',
  });
  if (image === undefined) return undefined;

  const file = app.uri.fsPath;
  const { checkExport, exportApp, writeExport } = loadExporter();
  const result = await exportApp(file, app.className, { target: picked.target, ...(image.trim() ? { image: image.trim() } : {}) });
  const root = vscode.workspace.getWorkspaceFolder(app.uri)?.uri.fsPath ?? path.dirname(file);
  const dir = path.join(root, 'kiln-export', `${result.plan.name}-${picked.target}`);
  writeExport(dir, result);
  const problems = await checkExport(result);

  output.info(`Exported ${result.plan.className} for ${picked.target} to ${dir}`);
  for (const { key, message } of result.plan.warnings) output.warn(`${key}: ${message}`);
  for (const problem of problems) output.error(`${problem.object}: ${problem.message}`);
  const readme = vscode.Uri.file(path.join(dir, 'README.md'));
  await vscode.window.showTextDocument(readme, { preview: false });
  const summary = problems.length
    ? `${problems.length} manifest problems against the schemas (see the output)`
    : `manifests valid against the schemas; ${result.plan.warnings.length} things did not map (see the README)`;
  void vscode.window.showInformationMessage(`Kiln: exported to ${path.relative(root, dir)}: ${summary}.`, 'Show Output')
    .then((choice) => choice && output.show());
  return dir;
}

export function registerExport(ctx: KilnContext): void {
  ctx.registerCommand('kiln.exportForKubernetes', (target?: AppTarget | vscode.Uri) => exportForKubernetes(target, ctx.output));
}
