/**
 * The commands beyond deploy and invoke, each against the real bundled runtime: the log tail
 * (and its recovery across a runtime restart), scale, secrets, copy URL, delete, hot reload, the
 * dashboard, new apps from templates, and connecting to another runtime. A person's answers to
 * input boxes, picks and confirmations come from prompts.ts; everything else is real.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import { ensureRuntime, isProcessAlive, KilnClient, type RuntimeHandle } from '../../../src/client';
import { defaultDataDir } from '../../../src/shared/dataDir';
import { allTabs, closeAll, openFile, runtimeClient, runtimeInfo, workspaceFile } from './kiln';
import { withAnswers } from './prompts';
import { eventually, waitFor } from './waitFor';

interface DeployOutcome {
  app?: { name: string; revision: number; url: string };
  error?: string;
}

async function deployEditorHello(): Promise<NonNullable<DeployOutcome['app']>> {
  await openFile('deploy_me.py');
  const outcome = await vscode.commands.executeCommand<DeployOutcome>('kiln.deploy');
  assert.ok(outcome?.app, `deploy failed: ${outcome?.error}`);
  return outcome.app;
}

/** A view item as the Kiln view hands it to a command. */
const item = (fields: { app?: string; path?: string; runner?: string; secret?: string }) => fields;

describe('the Kiln commands', () => {
  before(async function () {
    this.timeout(120_000);
    await deployEditorHello();
  });
  after(closeAll);

  it('tails an app\'s log in a read-only log document, and carries on across a runtime restart', async function () {
    this.timeout(120_000);
    const client = runtimeClient();
    await client.invoke('editor-hello', '/greet', { name: 'before' });
    const document = await vscode.commands.executeCommand<vscode.TextDocument>('kiln.tailLogs', item({ app: 'editor-hello' }));
    assert.equal(document?.uri.scheme, 'kiln-log');
    assert.equal(document.languageId, 'kiln-log');
    await eventually(() => document.getText(), (text) => /editor-hello-r\d-\w{6} +stdout greeting before$/m.test(text), 15_000,
      (text) => `the log did not show the line printed before the tail opened:\n${text}`);
    await client.invoke('editor-hello', '/greet', { name: 'live' });
    await eventually(() => document.getText(), (text) => text.includes('greeting live'), 15_000, (text) => `no live line:\n${text}`);

    // The runtime dies; another starts on the same data directory (new port, new token).
    const { pid } = runtimeInfo();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isProcessAlive(pid), 10_000, 'the runtime did not die');
    const started = await vscode.commands.executeCommand<string>('kiln.startRuntime');
    assert.notEqual(runtimeInfo().pid, pid);
    assert.equal(started, runtimeInfo().url);
    await eventually(() => runtimeClient().listApps(), (apps) => apps.some((app) => app.name === 'editor-hello'), 30_000, () => 'the app did not come back');
    await runtimeClient().invoke('editor-hello', '/greet', { name: 'after' });
    const text = await eventually(() => document.getText(), (shown) => shown.includes('greeting after'), 30_000,
      (shown) => `the tail did not recover after the restart:\n${shown}`);
    for (const name of ['before', 'live', 'after']) {
      assert.equal(text.split('\n').filter((line) => line.endsWith(`greeting ${name}`)).length, 1, `"greeting ${name}" once:\n${text}`);
    }
  });

  it('filters the tail by text into a tab of its own', async function () {
    this.timeout(60_000);
    const client = runtimeClient();
    const document = await vscode.commands.executeCommand<vscode.TextDocument>('kiln.tailLogs', item({ app: 'editor-hello' }));
    await vscode.window.showTextDocument(document!);
    const { result: filtered } = await withAnswers([{ pick: 'Lines containing text' }, { input: 'Filtered' }],
      () => vscode.commands.executeCommand<vscode.TextDocument>('kiln.filterLogs'));
    assert.match(filtered!.uri.path, /^\/editor-hello \(“Filtered”\)\.log$/);
    // The other line comes first: once the filtered one shows, the other has had its chance to.
    await client.invoke('editor-hello', '/greet', { name: 'Other' });
    await client.invoke('editor-hello', '/greet', { name: 'Filtered' });
    await eventually(() => filtered!.getText(), (text) => text.includes('greeting Filtered'), 15_000, (text) => `no filtered line:\n${text}`);
    assert.ok(!filtered!.getText().includes('greeting Other'), 'the filter keeps other lines out');
    assert.ok(!allTabs().some((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === document!.uri.toString()),
      'the filtered tab takes the place of the unfiltered one');
    await closeAll();
  });

  it('fills a log tab that VS Code restores from an earlier window, with no Tail Logs run', async function () {
    this.timeout(60_000);
    await runtimeClient().invoke('editor-hello', '/greet', { name: 'restored' });
    // A restored tab asks for its URI's content, as openTextDocument does here.
    const document = await vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: 'kiln-log', path: '/editor-hello.log' }));
    await vscode.window.showTextDocument(document, { preview: false });
    await eventually(() => document.getText(), (text) => text.includes('greeting restored'), 15_000, (text) => `the restored tab stayed without the log:\n${text}`);
    await runtimeClient().invoke('editor-hello', '/greet', { name: 'after restore' });
    await eventually(() => document.getText(), (text) => text.includes('greeting after restore'), 15_000, (text) => `the restored tab did not follow:\n${text}`);
    await closeAll();
  });

  it('says in the tab when a tail fails for good, and starts a new one when asked again', async function () {
    this.timeout(60_000);
    // The runtime refuses to follow a name no app can have: no retry mends that.
    const failure = /The log tail failed: No app named "Not_An_App": .*\. Run "Kiln: Tail Logs" to start it again\.$/;
    const document = await vscode.commands.executeCommand<vscode.TextDocument>('kiln.tailLogs', 'Not_An_App');
    await eventually(() => document!.getText(), (text) => failure.test(text.trim()), 15_000, (text) => `the tab did not say the tail failed:\n${text}`);
    await vscode.commands.executeCommand('kiln.tailLogs', 'Not_An_App');
    await eventually(() => document!.getText().trim().split('\n'), (lines) => lines.length === 2 && lines.every((line) => failure.test(line)), 15_000,
      (lines) => `asked again, the tail did not try again:\n${lines.join('\n')}`);
    await closeAll();
  });

  it('scales an app through input boxes checked with the configuration\'s rules', async function () {
    this.timeout(60_000);
    const { result, script } = await withAnswers([{ input: '1' }, { input: '0' }], () => vscode.commands.executeCommand('kiln.scaleApp', item({ app: 'editor-hello' })));
    assert.equal(result, undefined, 'a refused value changes nothing');
    assert.match(script.asked[1]!.refused!, /^max_concurrency must be a whole number, 1 or more$/);

    const before = await runtimeClient().getApp('editor-hello');
    await withAnswers([{ input: '1' }, { input: '3' }, { input: '120' }], () => vscode.commands.executeCommand('kiln.scaleApp', item({ app: 'editor-hello' })));
    const app = await runtimeClient().getApp('editor-hello');
    assert.deepEqual([app.scale.minConcurrency, app.scale.maxConcurrency, app.scale.keepAlive], [1, 3, 120]);
    assert.equal(app.revision, before.revision, 'scaling is no redeploy');
    assert.deepEqual(app.scaleOverrides, { minConcurrency: 1, maxConcurrency: 3, keepAlive: 120 });
    await runtimeClient().scale('editor-hello', { reset: true });
  });

  it('sets a secret from a password box and unsets it from the view; its value never leaves the runtime', async function () {
    this.timeout(60_000);
    const value = 'sk-test-0123456789';
    await withAnswers([{ input: 'EDITOR_TOKEN' }, { input: value }], () => vscode.commands.executeCommand('kiln.setSecret'));
    const secrets = await runtimeClient().listSecrets();
    assert.deepEqual(secrets.map((secret) => secret.name), ['EDITOR_TOKEN']);
    assert.ok(!JSON.stringify(secrets).includes(value), 'the runtime never answers with the value');
    // Nor does anything keep it in the clear: an open document, the settings, the runtime's log.
    const kept = vscode.workspace.textDocuments.map((document) => document.getText()).join('\n')
      + JSON.stringify(vscode.workspace.getConfiguration('kiln'))
      + readFileSync(path.join(defaultDataDir(), 'runtime.log'), 'utf8');
    assert.ok(!kept.includes(value), 'the value is kept nowhere in the clear');
    await vscode.commands.executeCommand('kiln.unsetSecret', item({ secret: 'EDITOR_TOKEN' }));
    assert.deepEqual(await runtimeClient().listSecrets(), []);
  });

  it('copies an app\'s URL and an endpoint\'s', async () => {
    const url = await vscode.commands.executeCommand<string>('kiln.copyUrl', item({ app: 'editor-hello' }));
    assert.equal(url, `${runtimeInfo().url}/editor-hello`);
    assert.equal(await vscode.env.clipboard.readText(), url);
    assert.equal(await vscode.commands.executeCommand<string>('kiln.copyUrl', item({ app: 'editor-hello', path: '/greet' })), `${runtimeInfo().url}/editor-hello/greet`);
  });

  it('runs with hot reload: a dev copy redeployed on save, the last good one kept through a broken save, deleted on stop', async function () {
    this.timeout(180_000);
    const editor = await openFile('deploy_me.py');
    const original = editor.document.getText();
    try {
      const name = await vscode.commands.executeCommand<string>('kiln.runWithHotReload');
      assert.equal(name, 'editor-hello-dev');
      const client = runtimeClient();
      await eventually(() => client.invoke('editor-hello-dev', '/greet', { name: 'Dev' }), (reply) => reply.status === 200, 60_000, (reply) => `the dev copy answered ${reply.status}`);

      await editor.edit((edit) => edit.replace(fullRange(editor.document), original.replace('f"Hello, {name}!"', 'f"Howdy, {name}!"')));
      await editor.document.save();
      await eventually(() => client.invoke('editor-hello-dev', '/greet', { name: 'Dev' }), (reply) => JSON.stringify(reply.body).includes('Howdy, Dev!'),
        60_000, (reply) => `the save was not deployed: ${JSON.stringify(reply.body)}`);

      await editor.edit((edit) => edit.replace(fullRange(editor.document), original.replace('def setup(self):', 'def setup(self)')));
      await editor.document.save();
      const uri = workspaceFile('deploy_me.py');
      const [problem] = await eventually(() => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'Kiln deploy'), (found) => found.length > 0,
        60_000, () => 'the broken save showed no deploy diagnostic');
      assert.equal(problem!.range.start.line, 6, 'at the line of `def setup(self)`');
      assert.deepEqual((await client.invoke('editor-hello-dev', '/greet', { name: 'Dev' })).body, { message: 'Howdy, Dev!' }, 'the last good revision keeps serving');
      assert.equal((await client.getApp('editor-hello')).revision >= 1, true, 'the real app is untouched');

      assert.equal(await vscode.commands.executeCommand<string>('kiln.stopHotReload'), 'editor-hello-dev');
      assert.ok(!(await client.listApps()).some((app) => app.name === 'editor-hello-dev'), 'stopping deletes the dev copy');
    } finally {
      await editor.edit((edit) => edit.replace(fullRange(editor.document), original));
      await editor.document.save();
    }
  });

  it('stops hot reload without starting a runtime when none runs, and says the dev copy is still there', async function () {
    this.timeout(180_000);
    await openFile('deploy_me.py');
    assert.equal(await vscode.commands.executeCommand<string>('kiln.runWithHotReload'), 'editor-hello-dev');
    const { pid } = runtimeInfo();
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isProcessAlive(pid), 10_000, 'the runtime did not die');
    const { script } = await withAnswers([], () => vscode.commands.executeCommand('kiln.stopHotReload'));
    assert.deepEqual(script.messages.map((message) => message.text), [
      'Kiln: stopped hot reload, but no runtime runs to delete editor-hello-dev from: it comes back with the runtime (delete it from the Kiln view then)',
    ]);
    assert.equal(runtimeInfo().pid, pid, 'no runtime was started to delete the copy');
    const again = await withAnswers([], () => vscode.commands.executeCommand('kiln.stopHotReload'));
    assert.deepEqual(again.script.messages.map((message) => message.text), ['Kiln: hot reload is not running'], 'the session ended all the same');

    await vscode.commands.executeCommand('kiln.startRuntime');
    await eventually(() => runtimeClient().listApps(), (apps) => apps.some((app) => app.name === 'editor-hello-dev'), 30_000, () => 'the dev copy did not come back');
    await runtimeClient().deleteApp('editor-hello-dev');
  });

  it('opens the usage dashboard', async () => {
    const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>('kiln.openDashboard');
    assert.equal(panel?.title, 'Kiln Usage');
    panel!.dispose();
  });

  it('creates an app from a template, in the workspace folder', async () => {
    const uri = await vscode.commands.executeCommand<vscode.Uri>('kiln.newApp', 'batch');
    try {
      assert.equal(path.basename(uri!.fsPath), 'batch_processor.py');
      assert.match(readFileSync(uri!.fsPath, 'utf8'), /class BatchProcessor\(fal\.App\)/);
      assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, uri!.fsPath);
      const second = await withAnswers([{ pick: 'Hello' }], () => vscode.commands.executeCommand<vscode.Uri>('kiln.newApp'));
      assert.equal(path.basename(second.result!.fsPath), 'hello_2.py', 'an existing file is never overwritten');
      rmSync(second.result!.fsPath);
    } finally {
      rmSync(uri!.fsPath, { force: true });
    }
  });

  it('deletes an app after asking', async function () {
    this.timeout(60_000);
    const cancelled = await withAnswers([{ button: undefined }], () => vscode.commands.executeCommand('kiln.deleteApp', item({ app: 'editor-hello' })));
    assert.equal(cancelled.result, undefined);
    assert.ok((await runtimeClient().listApps()).some((app) => app.name === 'editor-hello'), 'Cancel deletes nothing');
    await withAnswers([{ button: 'Delete' }], () => vscode.commands.executeCommand('kiln.deleteApp', item({ app: 'editor-hello' })));
    assert.ok(!(await runtimeClient().listApps()).some((app) => app.name === 'editor-hello'));
  });

  it('says why, and how to fix it, when no runtime runs; the fix brings it back', async function () {
    this.timeout(60_000);
    const settings = vscode.workspace.getConfiguration('kiln');
    await settings.update('runtime.autoStart', false, vscode.ConfigurationTarget.Workspace);
    try {
      const { pid } = runtimeInfo();
      await runtimeClient().shutdown();
      await waitFor(() => !isProcessAlive(pid), 15_000, 'the runtime did not stop');
      // The notification's Start Runtime button is the fix.
      const { script } = await withAnswers([{ button: 'Start Runtime' }], () => vscode.commands.executeCommand('kiln.scaleApp'));
      assert.match(script.messages[0]!.text, /^Kiln: No Kiln runtime is running, and kiln\.runtime\.autoStart is off\.$/);
      const started = () => { try { return runtimeInfo().pid !== pid && isProcessAlive(runtimeInfo().pid); } catch { return false; } };
      await waitFor(started, 30_000, 'the Start Runtime button did not start a runtime');
      await eventually(() => runtimeClient().health(), (health) => health.url === runtimeInfo().url, 15_000, () => 'the new runtime does not answer');
    } finally {
      await settings.update('runtime.autoStart', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  it('connects to another runtime by URL with its token, then back to the bundled one', async function () {
    this.timeout(60_000);
    const home = mkdtempSync(path.join(os.tmpdir(), 'kiln-remote-'));
    const settings = () => vscode.workspace.getConfiguration('kiln');
    let remote: RuntimeHandle | undefined;
    try {
      remote = await ensureRuntime({ runtimeScript: path.resolve(__dirname, '..', '..', '..', 'dist', 'runtime.js'), dataDir: home, port: 0 });
      // An old URL in the workspace's settings outranks the user's: connecting replaces it there.
      await settings().update('runtime.url', 'http://127.0.0.1:9', vscode.ConfigurationTarget.Workspace);
      const url = await vscode.commands.executeCommand<string>('kiln.connectRuntime', { url: remote.url, token: remote.token });
      assert.equal(url, remote.url);
      assert.equal(settings().get('runtime.url'), remote.url);
      assert.deepEqual([settings().inspect('runtime.url')?.workspaceValue, settings().inspect('runtime.url')?.globalValue], [remote.url, undefined]);
      assert.ok(!JSON.stringify(settings().inspect('runtime')).includes(remote.token), 'the token is never in settings');
      const outcome = await deployEditorHello();
      assert.equal(outcome.url, `${remote.url}/editor-hello`, 'deploys go to the remote runtime');
      assert.deepEqual((await new KilnClient(remote).listApps()).map((app) => app.name), ['editor-hello']);

      await vscode.commands.executeCommand('kiln.connectRuntime', { bundled: true });
      assert.equal(settings().get('runtime.url'), '');
      assert.deepEqual([settings().inspect('runtime.url')?.workspaceValue, settings().inspect('runtime.url')?.globalValue], [undefined, undefined]);
    } finally {
      await settings().update('runtime.url', undefined, vscode.ConfigurationTarget.Workspace);
      await settings().update('runtime.url', undefined, vscode.ConfigurationTarget.Global);
      if (remote) await new KilnClient(remote).shutdown().catch(() => undefined);
      if (remote) await waitFor(() => !isProcessAlive(remote!.pid), 15_000, 'the remote runtime did not stop').catch(() => process.kill(remote!.pid, 'SIGKILL'));
      rmSync(home, { recursive: true, force: true });
    }
  });
});

function fullRange(document: vscode.TextDocument): vscode.Range {
  return new vscode.Range(0, 0, document.lineCount, 0);
}
