/**
 * What the extension-host tests do often: open a workspace file, find a CodeLens, read the
 * runtime the extension started (through its runtime.json, as the CLI would), list the tabs.
 */
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { KilnClient } from '../../../src/client';
import type { RuntimeInfo } from '../../../src/shared/api';
import { defaultDataDir, runtimeInfoPath } from '../../../src/shared/dataDir';
import { eventually } from './waitFor';

export function workspaceFile(name: string): vscode.Uri {
  return vscode.Uri.joinPath(vscode.workspace.workspaceFolders![0]!.uri, name);
}

export async function openFile(name: string): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument(workspaceFile(name));
  return vscode.window.showTextDocument(document);
}

export async function findLens(file: string, command: string): Promise<vscode.CodeLens> {
  const editor = await openFile(file);
  const lenses = await eventually(
    () => vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', editor.document.uri),
    (found) => found?.some((lens) => lens.command?.command === command) ?? false,
    30_000, (found) => `no ${command} CodeLens on ${file} within 30 s: ${JSON.stringify(found?.map((lens) => lens.command?.command))}`);
  return lenses.find((lens) => lens.command?.command === command)!;
}

/** The runtime the extension started for this run's KILN_HOME. */
export function runtimeInfo(): RuntimeInfo {
  return JSON.parse(readFileSync(runtimeInfoPath(defaultDataDir()), 'utf8')) as RuntimeInfo;
}

export function runtimeClient(): KilnClient {
  return new KilnClient(runtimeInfo());
}

export function allTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((group) => group.tabs);
}

/** Closes every editor, so the next test starts from an empty window. */
export async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}
