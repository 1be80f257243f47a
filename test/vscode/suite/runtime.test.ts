/**
 * Deploy and Invoke from the editor, for real: the commands start the bundled runtime with
 * VS Code's own Node, deploy the workspace's apps, and call them; from the CodeLens, and from
 * the Command Palette with no arguments at all (the App in the active editor).
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { allTabs, closeAll, findLens, openFile, runtimeClient, runtimeInfo, workspaceFile } from './kiln';
import { withAnswers } from './prompts';
import { eventually, waitFor } from './waitFor';

interface DeployOutcome {
  app?: { name: string; state: string; revision: number; url: string };
  error?: string;
}

describe('deploy and invoke from the editor', () => {
  after(closeAll);

  it('deploys with the Deploy lens, starting the bundled runtime with VS Code\'s Node', async function () {
    this.timeout(120_000);
    const lens = await findLens('deploy_me.py', 'kiln.deploy');
    const outcome = await vscode.commands.executeCommand<DeployOutcome>(lens.command!.command, ...lens.command!.arguments!);
    assert.ok(outcome?.app, `deploy failed: ${outcome?.error}`);
    assert.equal(outcome.app.name, 'editor-hello');
    assert.equal(outcome.app.state, 'live');

    const info = runtimeInfo();
    const commandLine = readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').split('\0');
    assert.equal(commandLine[0], process.execPath, 'the runtime runs on the extension host\'s own Node');
    assert.equal(path.basename(commandLine[1]!), 'runtime.js');
    const apps = await runtimeClient().listApps();
    assert.deepEqual(apps.map((app) => app.name), ['editor-hello']);
  });

  it('deploys from the Command Palette with no arguments: the App in the active editor', async function () {
    this.timeout(120_000);
    await openFile('deploy_me.py');
    const outcome = await vscode.commands.executeCommand<DeployOutcome>('kiln.deploy');
    assert.ok(outcome?.app, `deploy failed: ${outcome?.error}`);
    assert.deepEqual([outcome.app.name, outcome.app.revision], ['editor-hello', 2]);
  });

  it('asks which App when the active file has several, and deploys the one picked', async function () {
    this.timeout(120_000);
    await openFile('two_apps.py');
    const { result, script } = await withAnswers([{ pick: 'Second' }], () => vscode.commands.executeCommand<DeployOutcome>('kiln.deploy'));
    assert.deepEqual(script.asked.map((asked) => asked.title), ['Deploy which app of two_apps.py?']);
    assert.equal(result?.app?.name, 'second');
    await runtimeClient().deleteApp('second');
  });

  it('deploys a file from the explorer\'s context menu (its URI)', async function () {
    this.timeout(120_000);
    await closeAll();
    const outcome = await vscode.commands.executeCommand<DeployOutcome>('kiln.deploy', workspaceFile('deploy_me.py'));
    assert.equal(outcome?.app?.name, 'editor-hello');
  });

  it('opens the endpoint tester from the Invoke lens, and from the palette', async function () {
    this.timeout(60_000);
    const lens = await findLens('deploy_me.py', 'kiln.invoke');
    const [target] = lens.command!.arguments!;
    assert.deepEqual(target.parameters, [{ name: 'name', annotation: 'str', hasDefault: false }, { name: 'times', annotation: 'int', hasDefault: true }]);
    const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>(lens.command!.command, target);
    assert.equal(panel?.title, 'Test editor-hello/greet');
    await eventually(() => allTabs().filter((tab) => tab.input instanceof vscode.TabInputWebview).map((tab) => tab.label),
      (labels) => labels.includes('Test editor-hello/greet'), 10_000, (labels) => `the webview tabs: ${JSON.stringify(labels)}`);
    panel!.dispose();

    await openFile('deploy_me.py');
    const fromPalette = await vscode.commands.executeCommand<vscode.WebviewPanel>('kiln.invoke');
    assert.equal(fromPalette?.title, 'Test editor-hello/greet');
    fromPalette!.dispose();

    // As the deploy notification's Open Tester names it: the app alone, its one endpoint found.
    const fromNotification = await vscode.commands.executeCommand<vscode.WebviewPanel>('kiln.openTester', { app: 'editor-hello' });
    assert.equal(fromNotification?.title, 'Test editor-hello/greet');
    fromNotification!.dispose();
  });

  it('deploys and opens the tester from the walkthrough, where no text editor is active: the Python file last used, else what the runtime serves', async function () {
    this.timeout(120_000);
    await openFile('deploy_me.py');
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', 'kiln-dev.kiln#kiln.gettingStarted', false);
    await waitFor(() => vscode.window.activeTextEditor === undefined, 10_000, 'the walkthrough did not take the editor area');
    const outcome = await vscode.commands.executeCommand<DeployOutcome>('kiln.deploy');
    assert.equal(outcome?.app?.name, 'editor-hello', `deploy failed: ${outcome?.error}`);
    const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>('kiln.openTester');
    assert.equal(panel?.title, 'Test editor-hello/greet');
    panel!.dispose();

    // No Python file open at all: the runtime's one endpoint.
    await closeAll();
    const served = await vscode.commands.executeCommand<vscode.WebviewPanel>('kiln.openTester');
    assert.equal(served?.title, 'Test editor-hello/greet');
    served!.dispose();
  });

  it('asks each input in an input box the first time, typed by the parameter\'s hint', async function () {
    this.timeout(60_000);
    await openFile('deploy_me.py');
    const refused = await withAnswers([{ input: 'Ada' }, { input: 'two' }], () => vscode.commands.executeCommand('kiln.invokeWithLastInput'));
    assert.equal(refused.result, undefined, 'a refused input sends nothing');
    assert.deepEqual(refused.script.asked.map((asked) => [asked.title, asked.refused]), [
      ['Invoke editor-hello/greet (1/2)', undefined],
      ['Invoke editor-hello/greet (2/2)', 'Enter a whole number, such as 30'],
    ]);
    const { result } = await withAnswers([{ input: 'Ada' }, { input: '' }], () => vscode.commands.executeCommand<vscode.TextDocument>('kiln.invokeWithLastInput'));
    const [summary, input, ...body] = result!.getText().split('\n');
    assert.match(summary!, /^\/\/ POST \/editor-hello\/greet → 200 in \d+ ms \(runner editor-hello-r\d-[0-9a-f]{6}, revision \d\)/);
    assert.equal(input, '// input: {"name":"Ada"}', 'an empty input leaves the default to the endpoint');
    assert.deepEqual(JSON.parse(body.join('\n')), { message: 'Hello, Ada!' });
    assert.ok(vscode.window.visibleTextEditors.some((editor) => editor.document === result), 'the response is visible');
  });

  it('invokes with given input, shows an error status with its detail, and then the last input from the palette', async function () {
    this.timeout(60_000);
    const lens = await findLens('deploy_me.py', 'kiln.invoke');
    const target = lens.command!.arguments![0];
    const given = await vscode.commands.executeCommand<vscode.TextDocument>('kiln.invokeWithLastInput', target, { name: 'Editor', times: 2 });
    assert.deepEqual(JSON.parse(given!.getText().split('\n').slice(2).join('\n')), { message: 'Hello, Editor! Hello, Editor!' });
    const failed = await vscode.commands.executeCommand<vscode.TextDocument>('kiln.invokeWithLastInput', target, { name: 5 });
    await eventually(() => failed!.getText(), (text) => /→ 422 in/.test(text) && /"msg": "Input should be a valid string"/.test(text), 10_000, (text) => `the response read ${text}`);

    // From the palette, with nothing given: the input last sent to the active editor's endpoint.
    await openFile('deploy_me.py');
    const again = await vscode.commands.executeCommand<vscode.TextDocument>('kiln.invokeWithLastInput');
    await eventually(() => again!.getText(), (text) => text.includes('// input: {"name":5}'), 10_000, (text) => `the response read ${text}`);
  });

  it('offers to deploy an app that is not deployed, then invokes it', async function () {
    this.timeout(120_000);
    await openFile('two_apps.py');
    const { result, script } = await withAnswers([{ pick: '/' }, { button: 'Deploy and Invoke' }],
      () => vscode.commands.executeCommand<vscode.TextDocument>('kiln.invokeWithLastInput'));
    assert.ok(script.messages.some((message) => message.text === 'first is not deployed yet.'));
    await eventually(() => result!.getText(), (text) => text.includes('"app": "first"'), 10_000, (text) => `the response read ${text}`);
    await runtimeClient().deleteApp('first');
  });

  it('reports a failed deploy at the line of the failure, and clears it on the next edit', async function () {
    this.timeout(120_000);
    const lens = await findLens('setup_fails.py', 'kiln.deploy');
    const outcome = await vscode.commands.executeCommand<DeployOutcome>(lens.command!.command, ...lens.command!.arguments!);
    assert.equal(outcome?.app, undefined);
    assert.match(outcome!.error!, /Deploy failed at setup \(setup_fails\.py:8\): setup\(\) failed: RuntimeError: the weights are missing/);
    const uri = workspaceFile('setup_fails.py');
    const diagnostics = await eventually(() => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Kiln deploy'), (found) => found.length === 1,
      5_000, (found) => `deploy diagnostics: ${JSON.stringify(found)}`);
    assert.equal(diagnostics[0]!.range.start.line, 7);
    assert.match(diagnostics[0]!.message, /the weights are missing/);

    const editor = await openFile('setup_fails.py');
    await editor.edit((edit) => edit.insert(new vscode.Position(0, 0), '# edited\n'));
    await eventually(() => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Kiln deploy'), (found) => found.length === 0,
      5_000, (found) => `the deploy diagnostic stayed after an edit: ${JSON.stringify(found)}`);
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });
});
