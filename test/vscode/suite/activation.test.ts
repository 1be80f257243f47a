import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { print } from './output';
import { waitFor } from './waitFor';

const extensionId = 'kiln-dev.kiln';

describe('activation', () => {
  it('activates when a Python file is opened and registers kiln.showVersion', async () => {
    print(`    VS Code ${vscode.version} (${vscode.env.appName}, host: ${vscode.env.appHost})`);

    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension, `${extensionId} is not loaded: extensionDevelopmentPath must be the repository root`);
    // Activating it here (extension.activate()) would pass even with broken activation events;
    // the point is that opening a Python file is enough.
    assert.equal(extension.isActive, false,
      `${extensionId} was active before any Python file was opened, so this test cannot show that opening one ` +
      'activates it. Check activationEvents in package.json.');

    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder, 'no workspace folder is open; the launcher opens a copy of test/fixtures/workspace');

    const opened = performance.now();
    const document = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, 'hello.py'));
    await vscode.window.showTextDocument(document);
    assert.equal(document.languageId, 'python');
    await waitFor(() => extension.isActive, 30_000,
      `${extensionId} did not activate within 30 s of opening hello.py; the extension host log says why`);
    print(`    activation: ${Math.round(performance.now() - opened)} ms from opening hello.py to isActive`);
    // isActive also turns true when activate() threw; activate() on an activated extension
    // starts nothing and rethrows that error.
    await extension.activate().then(undefined, (error: unknown) => {
      throw new Error(`${extensionId} failed to activate`, { cause: error });
    });

    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('kiln.showVersion'), 'kiln.showVersion is not registered after activation');
  });
});
