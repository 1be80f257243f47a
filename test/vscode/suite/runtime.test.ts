/**
 * Deploy and Invoke from the editor, for real: the CodeLens commands start the bundled runtime
 * with VS Code's own Node, deploy the workspace's app, and call it.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { KilnClient } from '../../../src/client';
import type { RuntimeInfo } from '../../../src/shared/api';
import { defaultDataDir, runtimeInfoPath } from '../../../src/shared/dataDir';

interface DeployOutcome {
  app?: { name: string; state: string; revision: number; url: string };
  error?: string;
}

describe('deploy and invoke from the editor', () => {
  it('deploys with the Deploy lens, starting the bundled runtime with VS Code\'s Node', async function () {
    this.timeout(120_000);
    const lens = await findLens('deploy_me.py', 'kiln.deploy');
    const outcome = await vscode.commands.executeCommand<DeployOutcome>(lens.command!.command, ...lens.command!.arguments!);
    assert.ok(outcome?.app, `deploy failed: ${outcome?.error}`);
    assert.equal(outcome.app.name, 'editor-hello');
    assert.equal(outcome.app.state, 'live');

    const info = JSON.parse(readFileSync(runtimeInfoPath(defaultDataDir()), 'utf8')) as RuntimeInfo;
    const commandLine = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0');
    assert.equal(commandLine[0], process.execPath, 'the runtime runs on the extension host\'s own Node');
    assert.equal(path.basename(commandLine[1]!), 'runtime.js');
    const apps = await new KilnClient(info).listApps();
    assert.deepEqual(apps.map((app) => app.name), ['editor-hello']);
  });

  it('invokes with the Invoke lens and shows the response beside the code', async function () {
    this.timeout(60_000);
    const lens = await findLens('deploy_me.py', 'kiln.invoke');
    const [target] = lens.command!.arguments!;
    assert.deepEqual(target.parameters, [{ name: 'name', annotation: 'str', hasDefault: false }, { name: 'times', annotation: 'int', hasDefault: true }]);
    const document = await vscode.commands.executeCommand<vscode.TextDocument>(lens.command!.command, target, { name: 'Editor', times: 2 });
    assert.ok(document, 'the invoke command returned no response document');
    assert.equal(document.uri.scheme, 'kiln-response');
    const text = document.getText();
    assert.match(text, /^\/\/ POST \/editor-hello\/greet → 200 in \d+ ms \(runner editor-hello-r1-[0-9a-f]{6}, revision 1\)/);
    assert.deepEqual(JSON.parse(text.slice(text.indexOf('\n') + 1)), { message: 'Hello, Editor! Hello, Editor!' });
    assert.ok(vscode.window.visibleTextEditors.some((editor) => editor.document === document), 'the response is visible');
  });

  it('shows an app\'s error status and detail in the response', async function () {
    this.timeout(60_000);
    const lens = await findLens('deploy_me.py', 'kiln.invoke');
    const document = await vscode.commands.executeCommand<vscode.TextDocument>(lens.command!.command, lens.command!.arguments![0], { name: 5 });
    const text = document!.getText();
    assert.match(text, /→ 422 in/);
    assert.match(text, /"msg": "Input should be a valid string"/);
  });

  it('reports a failed deploy with the file and line of the failure', async function () {
    this.timeout(120_000);
    const lens = await findLens('setup_fails.py', 'kiln.deploy');
    const outcome = await vscode.commands.executeCommand<DeployOutcome>(lens.command!.command, ...lens.command!.arguments!);
    assert.equal(outcome?.app, undefined);
    assert.match(outcome!.error!, /Deploy failed at setup \(setup_fails\.py:8\): setup\(\) failed: RuntimeError: the weights are missing/);
  });
});

async function findLens(file: string, command: string): Promise<vscode.CodeLens> {
  const folder = vscode.workspace.workspaceFolders![0]!;
  const document = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, file));
  await vscode.window.showTextDocument(document);
  let found: vscode.CodeLens | undefined;
  const deadline = Date.now() + 30_000;
  while (!found) {
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', document.uri);
    found = lenses?.find((lens) => lens.command?.command === command);
    if (found) break;
    if (Date.now() > deadline) throw new Error(`no ${command} CodeLens on ${file} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return found;
}
