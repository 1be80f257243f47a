/**
 * "Kiln: New App…": a new file from one of the examples (copied into dist/templates when the
 * extension is built, so each template is an example that the tests run). In an empty window it
 * asks for a folder first.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { KilnContext } from './ctx';

interface Template {
  id: string;
  label: string;
  detail: string;
  file: string;
}

const TEMPLATES: Template[] = [
  { id: 'hello', label: '$(symbol-event) Hello', detail: 'The smallest app: one endpoint, no requirements, on a small CPU machine', file: 'hello.py' },
  { id: 'text-to-image', label: '$(file-media) Text to image', detail: 'A generative model built in setup() that returns an image URL, on a GPU', file: 'text_to_image.py' },
  { id: 'batch', label: '$(list-unordered) Batch', detail: 'Many items in one request, with max_multiplexing', file: 'batch_processor.py' },
  { id: 'volumes', label: '$(database) With volumes', detail: 'Files under /models that survive cold starts and redeploys', file: 'model_with_storage.py' },
  { id: 'secrets', label: '$(key) With secrets', detail: 'Public env values and encrypted secrets (set them in the Kiln view)', file: 'secure_model.py' },
];

export function registerNewApp(ctx: KilnContext): void {
  ctx.registerCommand('kiln.newApp', async (templateId?: string) => {
    const template = TEMPLATES.find((candidate) => candidate.id === templateId)
      ?? await vscode.window.showQuickPick(TEMPLATES, { title: 'New Kiln app from a template', matchOnDetail: true });
    if (!template) return undefined;
    const folder = await targetFolder();
    if (!folder) return undefined;
    const file = freeName(folder.fsPath, template.file);
    const source = await vscode.workspace.fs.readFile(vscode.Uri.joinPath(ctx.extension.extensionUri, 'dist', 'templates', template.file));
    const uri = vscode.Uri.file(file);
    await vscode.workspace.fs.writeFile(uri, source);
    // Pinned: a new file is for editing, and a preview tab (the walkthrough's) stays open beside it.
    await vscode.window.showTextDocument(uri, { preview: false });
    return uri;
  });
}

/** The workspace's folder, or one the user picks (in a window with no folder open). */
async function targetFolder(): Promise<vscode.Uri | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 1) return folders[0]!.uri;
  if (folders.length > 1) {
    return (await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Create the app in which folder?' }))?.uri;
  }
  const [picked] = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Create the app here' }) ?? [];
  return picked;
}

/** `name`, or name_2.py, name_3.py… when a file of that name is already there (still an importable module name). */
function freeName(folder: string, name: string): string {
  const { name: stem, ext } = path.parse(name);
  let candidate = path.join(folder, name);
  for (let count = 2; existsSync(candidate); count++) candidate = path.join(folder, `${stem}_${count}${ext}`);
  return candidate;
}
