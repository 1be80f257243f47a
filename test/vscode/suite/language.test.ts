/**
 * The language server as a user meets it in VS Code: diagnostics, completion, hover, quick fixes,
 * CodeLens and inlay hints on the fixture workspace, asked for through VS Code's own commands
 * (the ones its editor uses), with the exact ranges and texts the server means to give.
 *
 * Tests that edit work on a copy of a fixture in `edited/`, so every test starts from the text
 * it names and no test sees another's edits.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { eventually } from './waitFor';

const extensionId = 'kiln-dev.kiln';
/** How long the server may take to answer after an open or an edit, on a loaded machine. */
const serverDeadlineMs = 30_000;

/** URIs VS Code has announced diagnostics for since these tests began: the server has published for them. */
const published = new Set<string>();

interface SeenDiagnostic {
  code: string;
  severity: string;
  /** line:character-line:character, 0-based as the API counts. */
  range: string;
  /** The text the range covers. */
  text: string;
}

describe('language features in the editor', () => {
  let listener: vscode.Disposable | undefined;

  before(async () => {
    listener = vscode.languages.onDidChangeDiagnostics((event) => {
      event.uris.forEach((uri) => published.add(uri.toString()));
    });
    // The activation test proves that opening a Python file activates Kiln; these tests may run
    // without it (--grep), so they activate it themselves and wait for the client to start.
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension, `${extensionId} is not loaded`);
    await extension.activate();
  });

  after(() => listener?.dispose());

  describe('diagnostics', () => {
    it('marks each problem of bad_config.py on the offending value, with its code and severity', async () => {
      const { document } = await open('bad_config.py');
      const found = await kilnDiagnosticsOnceAny(document);
      assert.deepEqual(found, [
        { code: 'min-exceeds-max', severity: 'Error', range: '3:40-3:41', text: '5' },
        { code: 'unknown-machine-type', severity: 'Error', range: '4:19-4:30', text: '"GPU-A1000"' },
        { code: 'invalid-requirement', severity: 'Error', range: '5:36-5:54', text: '"diffusers=0.30.0"' },
        { code: 'credential-in-env', severity: 'Warning', range: '6:40-6:69', text: '"hf_abcdefghijklmnopqrstuvwx"' },
        { code: 'num-gpus-on-cpu', severity: 'Error', range: '15:15-15:16', text: '2' },
      ]);
      const unknown = kilnDiagnostics(document).find((diagnostic) => codeOf(diagnostic) === 'unknown-machine-type')!;
      assert.equal(unknown.message, 'Unknown machine type "GPU-A1000". Did you mean "GPU-A100"?');
    });

    it('has nothing to say about a clean app', async () => {
      const { document } = await open('good_app.py');
      await waitForPublish(document);
      assert.deepEqual(seen(document), []);
    });

    it('leaves a Python file that does not import fal alone, until it imports fal', async () => {
      const editor = await openCopy('not_fal.py');
      const { document } = editor;
      await waitForPublish(document);
      assert.deepEqual(seen(document), [], 'the same App code without fal: nothing to report');

      // The server does read this file: importing App from fal makes the same code an App.
      await editor.edit((edit) => edit.replace(new vscode.Range(0, 5, 0, 12), 'fal'));
      assert.equal(document.lineAt(0).text, 'from fal import App');
      assert.deepEqual(await kilnDiagnosticsOnceAny(document), [
        { code: 'no-endpoints', severity: 'Warning', range: '3:6-3:14', text: 'ImageGen' },
        { code: 'min-exceeds-max', severity: 'Error', range: '3:36-3:37', text: '5' },
        { code: 'unknown-machine-type', severity: 'Error', range: '4:19-4:30', text: '"GPU-A1000"' },
      ]);

      await editor.edit((edit) => edit.replace(new vscode.Range(0, 5, 0, 8), 'serving'));
      await eventually(() => seen(document), (list) => list.length === 0, serverDeadlineMs,
        (list) => `after removing the fal import the diagnostics stayed: ${JSON.stringify(list)}`);
    });
  });

  describe('completion', () => {
    it('offers the machine types inside machine_type = "…", cheapest first, with their prices', async () => {
      const { document } = await open('good_app.py');
      assert.equal(document.lineAt(10).text, '    machine_type = "GPU-A100"');
      const items = await complete(document, new vscode.Position(10, 20));
      const byRank = [...items].sort((a, b) => a.sortText!.localeCompare(b.sortText!));
      assert.deepEqual(byRank.map(labelOf), ['XS', 'S', 'M', 'L', 'XL', 'GPU-T4', 'GPU-A10G', 'GPU-A100', 'GPU-A100-80GB',
        'GPU-H100', 'GPU-H200', 'GPU-B200']);

      const a100 = items.find((item) => labelOf(item) === 'GPU-A100')!;
      assert.deepEqual(a100.label, { label: 'GPU-A100', detail: ' 40GB', description: '$2.00/h' });
      assert.equal(a100.detail, 'NVIDIA A100, 40GB VRAM · $0.000556/s · $2.00/h');
      assert.equal(a100.kind, vscode.CompletionItemKind.EnumMember);
      // Accepting it replaces the name between the quotes, not the quotes.
      assert.equal(rangeText(asRange(a100.range)), '10:20-10:28');
      assert.equal(a100.insertText, 'GPU-A100');
    });

    it('offers the class keywords the header does not use yet', async () => {
      const editor = await openCopy('good_app.py');
      const { document } = editor;
      assert.equal(document.lineAt(9).text, 'class ImageGen(fal.App, keep_alive=300, min_concurrency=1):');
      await typeText(editor, new vscode.Position(9, 57), ', ');
      const items = await complete(document, new vscode.Position(9, 59));
      assert.deepEqual(items.map(labelOf).sort(),
        ['concurrency_buffer', 'max_concurrency', 'max_multiplexing', 'name', 'request_timeout', 'startup_timeout']);
      const name = items.find((item) => labelOf(item) === 'name')!;
      assert.equal((name.insertText as vscode.SnippetString).value, 'name=${1:"my-app"}');
    });

    it('does not offer again a keyword that follows the cursor in the header', async () => {
      const editor = await openCopy('good_app.py');
      await typeText(editor, new vscode.Position(9, 22), ', ');
      assert.equal(editor.document.lineAt(9).text, 'class ImageGen(fal.App, , keep_alive=300, min_concurrency=1):');
      const items = await complete(editor.document, new vscode.Position(9, 24));
      assert.deepEqual(items.map(labelOf).sort(),
        ['concurrency_buffer', 'max_concurrency', 'max_multiplexing', 'name', 'request_timeout', 'startup_timeout']);
      assert.equal(rangeText(asRange(items[0]!.range)), '9:24-9:24');
    });

    it('follows what is typed: diagnostics and completion read the edited text', async () => {
      const editor = await openCopy('good_app.py');
      const { document } = editor;
      await waitForPublish(document);
      assert.deepEqual(seen(document), []);

      await typeText(editor, new vscode.Position(10, 28), '0');
      assert.equal(document.lineAt(10).text, '    machine_type = "GPU-A1000"');
      assert.deepEqual(await kilnDiagnosticsOnceAny(document),
        [{ code: 'unknown-machine-type', severity: 'Error', range: '10:19-10:30', text: '"GPU-A1000"' }]);
      const replaced = (await complete(document, new vscode.Position(10, 20))).find((item) => labelOf(item) === 'GPU-A100')!;
      assert.equal(rangeText(asRange(replaced.range)), '10:20-10:29', 'completion replaces the longer name now');

      await editor.edit((edit) => edit.delete(new vscode.Range(10, 28, 10, 29)));
      await eventually(() => seen(document), (list) => list.length === 0, serverDeadlineMs,
        (list) => `deleting the typo did not clear its diagnostic: ${JSON.stringify(list)}`);

      // A new statement in the class body: the options the app does not set yet.
      await typeText(editor, new vscode.Position(11, 23), '\n    ');
      assert.equal(document.lineAt(12).text, '    ');
      const attributes = (await complete(document, new vscode.Position(12, 4))).map(labelOf).sort();
      assert.deepEqual(attributes, ['concurrency_buffer', 'env', 'max_multiplexing', 'num_gpus', 'request_timeout',
        'secrets', 'snapshot_after_setup', 'startup_timeout', 'volumes']);

      await typeText(editor, new vscode.Position(12, 4), 'num_gpus = 9');
      assert.deepEqual(await eventually(() => seen(document), (list) => list.some((d) => d.code === 'invalid-num-gpus'),
        serverDeadlineMs, (list) => `no invalid-num-gpus after typing num_gpus = 9: ${JSON.stringify(list)}`),
      [{ code: 'invalid-num-gpus', severity: 'Error', range: '12:15-12:16', text: '9' }]);
    });
  });

  describe('hover', () => {
    it('prices the machine type per second, per hour and as a monthly floor', async () => {
      const { document } = await open('good_app.py');
      const hover = await hoverAt(document, new vscode.Position(10, 24));
      assert.equal(rangeText(hover.range!), '10:19-10:29');
      const text = hoverMarkdown(hover);
      assert.match(text, /^\*\*GPU-A100\*\* · NVIDIA A100, 40GB VRAM\n/);
      assert.match(text, /\| \| per second \| per hour \|\n\|---\|---:\|---:\|\n\| 1 GPU \| \$0\.000556 \| \$2\.00 \|/);
      assert.match(text, /- Monthly floor: \*\*\$1,461\*\* \(min_concurrency = 1: 1 runner always on, 730 h\)/);
      assert.match(text, /- Idle tail: up to \*\*\$0\.17\*\* per runner after each burst \(keep_alive = 5 min\)/);
      // $2.0016/h rounds to $2.00 alone, and four of them to $8.01.
      assert.match(text, /- At full scale: \*\*\$8\.01\/h\*\* \(max_concurrency = 4\)/);
    });

    it('gives keep_alive its idle cost and min_concurrency its monthly floor', async () => {
      const { document } = await open('good_app.py');
      const keepAlive = await hoverAt(document, new vscode.Position(9, 27));
      assert.equal(rangeText(keepAlive.range!), '9:24-9:34');
      assert.match(hoverMarkdown(keepAlive), /^\*\*keep_alive\*\* \(default 60\)\n/);
      assert.match(hoverMarkdown(keepAlive),
        /Here: 5 min\. Each runner may idle that long after its last request: up to \*\*\$0\.17\*\* per burst on GPU-A100 at \$2\.00\/h\./);

      const minConcurrency = await hoverAt(document, new vscode.Position(9, 45));
      assert.equal(rangeText(minConcurrency.range!), '9:40-9:55');
      assert.match(hoverMarkdown(minConcurrency),
        /Here: 1 runner always on: \*\*\$1,461\/month\*\* with no traffic \(\$2\.00\/h × 730 h × 1\)\./);
    });
  });

  describe('quick fixes', () => {
    it('changes an unknown machine type to the nearest known one', async () => {
      const editor = await openCopy('bad_config.py');
      await applyOnlyFix(editor, 'unknown-machine-type', 'Change to "GPU-A100"');
      assert.equal(editor.document.lineAt(4).text, '    machine_type = "GPU-A100"');
      await expectRemaining(editor.document, [
        { code: 'min-exceeds-max', severity: 'Error', range: '3:40-3:41', text: '5' },
        { code: 'invalid-requirement', severity: 'Error', range: '5:36-5:54', text: '"diffusers=0.30.0"' },
        { code: 'credential-in-env', severity: 'Warning', range: '6:40-6:69', text: '"hf_abcdefghijklmnopqrstuvwx"' },
        { code: 'num-gpus-on-cpu', severity: 'Error', range: '15:15-15:16', text: '2' },
      ]);
    });

    it('swaps min_concurrency and max_concurrency', async () => {
      const editor = await openCopy('bad_config.py');
      await applyOnlyFix(editor, 'min-exceeds-max', 'Swap min_concurrency and max_concurrency');
      assert.equal(editor.document.lineAt(3).text, 'class ImageGen(fal.App, min_concurrency=2, max_concurrency=5):');
      await expectRemaining(editor.document, [
        { code: 'unknown-machine-type', severity: 'Error', range: '4:19-4:30', text: '"GPU-A1000"' },
        { code: 'invalid-requirement', severity: 'Error', range: '5:36-5:54', text: '"diffusers=0.30.0"' },
        { code: 'credential-in-env', severity: 'Warning', range: '6:40-6:69', text: '"hf_abcdefghijklmnopqrstuvwx"' },
        { code: 'num-gpus-on-cpu', severity: 'Error', range: '15:15-15:16', text: '2' },
      ]);
    });

    it('moves a credential from env into a new secrets line', async () => {
      const editor = await openCopy('bad_config.py');
      await applyOnlyFix(editor, 'credential-in-env', 'Move HF_TOKEN to secrets');
      assert.equal(editor.document.lineAt(6).text, '    env = {"MODEL": "sdxl"}');
      assert.equal(editor.document.lineAt(7).text, '    secrets = ["HF_TOKEN"]');
      assert.equal(editor.document.lineAt(8).text, '');
      await expectRemaining(editor.document, [
        { code: 'min-exceeds-max', severity: 'Error', range: '3:40-3:41', text: '5' },
        { code: 'unknown-machine-type', severity: 'Error', range: '4:19-4:30', text: '"GPU-A1000"' },
        { code: 'invalid-requirement', severity: 'Error', range: '5:36-5:54', text: '"diffusers=0.30.0"' },
        { code: 'num-gpus-on-cpu', severity: 'Error', range: '16:15-16:16', text: '2' },
      ]);
    });
  });

  describe('CodeLens', () => {
    it('puts Deploy above the class and Invoke above each endpoint, with the commands\' arguments', async () => {
      const { document } = await open('good_app.py');
      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', document.uri);
      const app = { uri: document.uri.toString(), className: 'ImageGen', appName: 'image-gen' };
      assert.deepEqual(lenses.map((lens) => ({
        at: `${lens.range.start.line}:${lens.range.start.character}`,
        title: lens.command?.title,
        command: lens.command?.command,
        arguments: lens.command?.arguments,
      })), [
        { at: '9:0', title: '$(cloud-upload) Deploy', command: 'kiln.deploy', arguments: [app] },
        { at: '9:0', title: 'GPU-A100 · $2.00/h per runner · $1,461/month floor', command: '', arguments: undefined },
        { at: '17:4', title: '$(play) Invoke /generate', command: 'kiln.invoke', arguments: [{ ...app, path: '/generate',
          parameters: [{ name: 'prompt', annotation: 'Prompt', hasDefault: false }] }] },
        { at: '21:4', title: '$(play) Invoke /health', command: 'kiln.invoke', arguments: [{ ...app, path: '/health', parameters: [] }] },
      ]);
      const registered = await vscode.commands.getCommands(true);
      assert.ok(registered.includes('kiln.deploy') && registered.includes('kiln.invoke'),
        'the lenses name commands the extension does not register');
    });
  });

  describe('inlay hints', () => {
    it('shows the price after machine_type and durations after keep_alive, and hides them when turned off', async () => {
      const { document } = await open('good_app.py');
      const expected = [
        { at: '9:38', label: '5 min' },
        { at: '9:57', label: '$1,461/month floor' },
        { at: '10:29', label: '$2.00/h' },
      ];
      assert.deepEqual(await inlayHints(document), expected);

      const settings = vscode.workspace.getConfiguration('kiln');
      await settings.update('inlayHints.enabled', false, vscode.ConfigurationTarget.Global);
      try {
        await eventually(() => inlayHints(document), (hints) => hints.length === 0, serverDeadlineMs,
          (hints) => `kiln.inlayHints.enabled is false, yet the hints stayed: ${JSON.stringify(hints)}`);
      } finally {
        await settings.update('inlayHints.enabled', undefined, vscode.ConfigurationTarget.Global);
      }
      await eventually(() => inlayHints(document), (hints) => hints.length === expected.length, serverDeadlineMs,
        (hints) => `the hints did not come back with the setting restored: ${JSON.stringify(hints)}`);
    });
  });
});

function workspaceFolder(): vscode.WorkspaceFolder {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'no workspace folder is open; the launcher opens a copy of test/fixtures/workspace');
  return folder;
}

async function open(fixture: string): Promise<vscode.TextEditor> {
  return show(vscode.Uri.joinPath(workspaceFolder().uri, fixture));
}

let copies = 0;

/** Opens a fresh copy of a fixture, for a test that edits it. */
async function openCopy(fixture: string): Promise<vscode.TextEditor> {
  const folder = workspaceFolder().uri;
  copies += 1;
  const copy = vscode.Uri.joinPath(folder, 'edited', `${copies}-${fixture}`);
  await vscode.workspace.fs.copy(vscode.Uri.joinPath(folder, fixture), copy);
  return show(copy);
}

async function show(uri: vscode.Uri): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument(uri);
  assert.equal(document.languageId, 'python');
  return vscode.window.showTextDocument(document);
}

/** Types `text` one character at a time, as separate edits, so the server gets each change. */
async function typeText(editor: vscode.TextEditor, at: vscode.Position, text: string): Promise<void> {
  let position = at;
  for (const character of text) {
    const insertAt = position;
    assert.ok(await editor.edit((edit) => edit.insert(insertAt, character)), `could not type "${character}"`);
    position = character === '\n' ? new vscode.Position(position.line + 1, 0) : position.translate(0, 1);
  }
}

function rangeText(range: vscode.Range): string {
  return `${range.start.line}:${range.start.character}-${range.end.line}:${range.end.character}`;
}

function codeOf(diagnostic: vscode.Diagnostic): string {
  const code = diagnostic.code;
  return String(typeof code === 'object' ? code.value : code);
}

function kilnDiagnostics(document: vscode.TextDocument): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(document.uri).filter((diagnostic) => diagnostic.source === 'kiln');
}

/** Kiln's diagnostics on a document in source order, as comparable records. */
function seen(document: vscode.TextDocument): SeenDiagnostic[] {
  return kilnDiagnostics(document)
    .sort((a, b) => a.range.start.compareTo(b.range.start))
    .map((diagnostic) => ({
      code: codeOf(diagnostic),
      severity: vscode.DiagnosticSeverity[diagnostic.severity],
      range: rangeText(diagnostic.range),
      text: document.getText(diagnostic.range),
    }));
}

/** Waits for the server's first diagnostics on a document that has problems, and returns them. */
function kilnDiagnosticsOnceAny(document: vscode.TextDocument): Promise<SeenDiagnostic[]> {
  return eventually(() => seen(document), (list) => list.length > 0, serverDeadlineMs,
    () => `no diagnostics from kiln on ${vscode.workspace.asRelativePath(document.uri)} within ${serverDeadlineMs / 1000} s`);
}

/** Waits until the server has published diagnostics (perhaps none) for a document. */
function waitForPublish(document: vscode.TextDocument): Promise<boolean> {
  return eventually(() => published.has(document.uri.toString()), (done) => done, serverDeadlineMs,
    () => `the server published no diagnostics for ${vscode.workspace.asRelativePath(document.uri)} within ${serverDeadlineMs / 1000} s`);
}

async function complete(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.CompletionItem[]> {
  const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider',
    document.uri, position);
  return list.items;
}

function labelOf(item: vscode.CompletionItem): string {
  return typeof item.label === 'string' ? item.label : item.label.label;
}

function asRange(range: vscode.CompletionItem['range']): vscode.Range {
  assert.ok(range, 'the completion item has no range');
  return range instanceof vscode.Range ? range : range.replacing;
}

/** The one hover at a position (Kiln is the only hover provider for Python here). */
async function hoverAt(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover> {
  const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', document.uri, position);
  assert.equal(hovers.length, 1, `expected one hover at ${position.line}:${position.character}, got ${hovers.length}`);
  return hovers[0]!;
}

function hoverMarkdown(hover: vscode.Hover): string {
  return hover.contents.map((part) => (typeof part === 'string' ? part : part.value)).join('\n');
}

/**
 * Asks for the quick fixes on the diagnostic with `code`, expects exactly one titled `title`,
 * and applies its edit as the light bulb would.
 */
async function applyOnlyFix(editor: vscode.TextEditor, code: string, title: string): Promise<void> {
  const { document } = editor;
  await kilnDiagnosticsOnceAny(document);
  const diagnostic = kilnDiagnostics(document).find((candidate) => codeOf(candidate) === code);
  assert.ok(diagnostic, `no ${code} diagnostic on ${vscode.workspace.asRelativePath(document.uri)}`);
  const actions = await vscode.commands.executeCommand<(vscode.CodeAction | vscode.Command)[]>(
    'vscode.executeCodeActionProvider', document.uri, diagnostic.range, vscode.CodeActionKind.QuickFix.value);
  assert.deepEqual(actions.map((action) => action.title), [title]);
  const action = actions[0] as vscode.CodeAction;
  assert.equal(action.kind?.value, vscode.CodeActionKind.QuickFix.value);
  // The only fix for its problem: the one the light bulb's "auto fix" applies.
  assert.equal(action.isPreferred, true);
  assert.ok(action.edit, `"${title}" has no edit`);
  const before = document.version;
  assert.ok(await vscode.workspace.applyEdit(action.edit), `VS Code refused the edit of "${title}"`);
  assert.ok(document.version > before, `"${title}" left the document unchanged`);
}

/** Waits until the fixed diagnostic is gone and checks that the rest are exactly `remaining`. */
async function expectRemaining(document: vscode.TextDocument, remaining: SeenDiagnostic[]): Promise<void> {
  const list = await eventually(() => seen(document), (current) => current.length === remaining.length, serverDeadlineMs,
    (current) => `after the fix the diagnostics are ${JSON.stringify(current)}`);
  assert.deepEqual(list, remaining);
}

async function inlayHints(document: vscode.TextDocument): Promise<{ at: string; label: string }[]> {
  const whole = new vscode.Range(0, 0, document.lineCount, 0);
  const hints = await vscode.commands.executeCommand<vscode.InlayHint[]>('vscode.executeInlayHintProvider', document.uri, whole);
  return hints.map((hint) => ({
    at: `${hint.position.line}:${hint.position.character}`,
    label: typeof hint.label === 'string' ? hint.label : hint.label.map((part) => part.value).join(''),
  }));
}
