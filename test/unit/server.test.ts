import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { CompletionItem, Diagnostic, MarkupContent, TextEdit } from 'vscode-languageserver';
import { createPythonParser } from '../../src/pyparse';
import { type Analysis, AnalysisCache } from '../../src/server/analysis';
import { codeActionsFor } from '../../src/server/codeActions';
import { codeLensesFor } from '../../src/server/codeLens';
import { completionsAt } from '../../src/server/completion';
import { diagnosticsFor } from '../../src/server/diagnostics';
import { hoverAt } from '../../src/server/hover';
import { inlayHintsFor } from '../../src/server/inlayHints';

let cache: AnalysisCache;
let counter = 0;

before(async () => {
  cache = new AnalysisCache(await createPythonParser());
});

function open(text: string): Analysis {
  return cache.open(`file:///test/app${counter++}.py`, 'python', 1, text);
}

/** The position of the `|` marker, and the text without it. */
function withCursor(marked: string): { text: string; position: { line: number; character: number } } {
  const offset = marked.indexOf('|');
  const text = marked.slice(0, offset) + marked.slice(offset + 1);
  const before = text.slice(0, offset).split('\n');
  return { text, position: { line: before.length - 1, character: before.at(-1)!.length } };
}

function complete(marked: string): CompletionItem[] {
  const { text, position } = withCursor(marked);
  return completionsAt(open(text), position);
}

function hoverText(marked: string): string | undefined {
  const { text, position } = withCursor(marked);
  const hover = hoverAt(open(text), position);
  return hover ? (hover.contents as MarkupContent).value : undefined;
}

function applyEdits(text: string, edits: TextEdit[]): string {
  return TextDocument.applyEdits(TextDocument.create('file:///x.py', 'python', 1, text), edits);
}

const APP = (body: string, header = 'fal.App') => `import fal\n\nclass MyApp(${header}):\n${body}\n    @fal.endpoint("/run")\n    def run(self, prompt: str) -> dict:\n        return {}\n`;

describe('diagnostics', () => {
  it('points at the offending value with its code and severity', () => {
    const analysis = open(APP('    machine_type = "GPU-A1000"'));
    const [diagnostic] = diagnosticsFor(analysis);
    assert.equal(diagnostic?.code, 'unknown-machine-type');
    assert.equal(diagnostic?.severity, 1);
    assert.deepEqual(diagnostic?.range, { start: { line: 3, character: 19 }, end: { line: 3, character: 30 } });
    assert.match(diagnostic!.message as string, /Did you mean "GPU-A100"\?/);
  });

  it('says nothing about files that never import fal', () => {
    const analysis = open('class MyApp(App):\n    machine_type = "nope"\n');
    assert.equal(analysis.file.importsFal, false);
    assert.deepEqual(diagnosticsFor(analysis), []);
  });

  it('re-reads only the edited text after an incremental change', () => {
    const uri = 'file:///test/incremental.py';
    const first = cache.open(uri, 'python', 1, APP('    machine_type = "GPU-A100"'));
    assert.deepEqual(diagnosticsFor(first), []);
    const changed = cache.change(uri, 2, [{ range: { start: { line: 3, character: 27 }, end: { line: 3, character: 27 } }, text: '0' }])!;
    assert.equal(changed.document.getText().split('\n')[3], '    machine_type = "GPU-A1000"');
    assert.deepEqual(diagnosticsFor(changed).map((d) => d.code), ['unknown-machine-type']);
    const fixedAgain = cache.change(uri, 3, [{ range: { start: { line: 3, character: 27 }, end: { line: 3, character: 28 } }, text: '' }])!;
    assert.deepEqual(diagnosticsFor(fixedAgain), []);
  });
});

describe('completion', () => {
  it('offers machine types inside machine_type = "|", cheapest first, with hardware and price', () => {
    const items = complete(APP('    machine_type = "|"'));
    assert.equal(items.length, 12);
    const byOrder = [...items].sort((a, b) => a.sortText!.localeCompare(b.sortText!));
    assert.equal(byOrder[0]!.label, 'XS');
    assert.equal(byOrder.at(-1)!.label, 'GPU-B200');
    const a100 = items.find((item) => item.label === 'GPU-A100')!;
    assert.match(a100.detail!, /NVIDIA A100, 40GB VRAM · \$0\.000556\/s · \$2\.00\/h/);
    assert.deepEqual((a100.textEdit as TextEdit).range, { start: { line: 3, character: 20 }, end: { line: 3, character: 20 } });
    assert.equal((a100.textEdit as TextEdit).newText, 'GPU-A100');
  });

  it('replaces the partly typed name inside the quotes', () => {
    const items = complete(APP('    machine_type = "GPU-A|"'));
    const edit = items.find((item) => item.label === 'GPU-A10G')!.textEdit as TextEdit;
    assert.deepEqual(edit.range, { start: { line: 3, character: 20 }, end: { line: 3, character: 25 } });
  });

  it('offers machine types in a list, including a half-typed one', () => {
    assert.ok(complete(APP('    machine_type = ["GPU-A100", "|"]')).some((item) => item.label === 'GPU-H100'));
    const typing = complete('import fal\n\nclass MyApp(fal.App):\n    machine_type = ["GPU-A100", "GPU-|');
    assert.ok(typing.some((item) => item.label === 'GPU-T4'));
  });

  it('inserts quotes when completing right after machine_type =', () => {
    const items = complete(APP('    machine_type = |'));
    assert.equal((items.find((item) => item.label === 'GPU-T4')!.textEdit as TextEdit).newText, '"GPU-T4"');
  });

  it('offers class keywords not yet used in the header', () => {
    const { text, position } = withCursor('import fal\n\nclass MyApp(fal.App, keep_alive=300, |):\n    pass\n');
    const labels = completionsAt(open(text), position).map((item) => item.label);
    assert.ok(labels.includes('min_concurrency'));
    assert.ok(labels.includes('name'));
    assert.ok(!labels.includes('keep_alive'), 'already used');
    assert.ok(!labels.includes('machine_type'), 'an attribute, not a keyword');
  });

  it('counts the keywords after the cursor as used, but not the one being replaced', () => {
    const before = complete('import fal\n\nclass MyApp(fal.App, |, keep_alive=300, name="x"):\n    pass\n').map((item) => item.label);
    assert.ok(!before.includes('keep_alive') && !before.includes('name'), 'already used after the cursor');
    assert.ok(before.includes('min_concurrency'));
    const within = complete('import fal\n\nclass MyApp(fal.App, keep_al|ive=300):\n    pass\n').map((item) => item.label);
    assert.ok(within.includes('keep_alive'), 'the keyword under the cursor is the one being chosen');
  });

  it('recognises the App base however fal was imported', () => {
    assert.ok(complete('import fal as f\n\nclass A(f.App, |').length > 0);
    assert.ok(complete('from fal import App as Base\n\nclass A(Base, |').length > 0);
    assert.equal(complete('import fal\n\nclass A(object, |').length, 0);
  });

  it('offers attribute names at a new statement of the class body, not inside methods', () => {
    const labels = complete(APP('    machine_type = "GPU-T4"\n    ke|')).map((item) => item.label);
    assert.ok(labels.includes('keep_alive'));
    assert.ok(!labels.includes('machine_type'), 'already set');
    assert.ok(!labels.includes('name'), 'keyword only');
    assert.ok(labels.includes('snapshot_after_setup'), 'Kiln\'s own attribute');
    assert.deepEqual(complete('import fal\n\nclass A(fal.App):\n    def setup(self):\n        ke|'), []);
  });

  it('offers a snippet with the machine types as choices for machine_type', () => {
    const item = complete(APP('    mach|')).find((candidate) => candidate.label === 'machine_type')!;
    assert.match((item.textEdit as TextEdit).newText, /^machine_type = "\$\{1\|XS,S,M,L,XL,GPU-T4,/);
  });
});

describe('hover', () => {
  it('prices a machine type with this app\'s GPUs and floor', () => {
    const text = hoverText(APP('    machine_type = "GPU-A1|00"\n    num_gpus = 2\n    min_concurrency = 1'))!;
    assert.match(text, /\*\*GPU-A100\*\* · NVIDIA A100, 40GB VRAM/);
    assert.match(text, /\| 1 GPU \| \$0\.000556 \| \$2\.00 \|/);
    assert.match(text, /\| 2 GPUs \(num_gpus\) \| \$0\.00111 \| \$4\.00 \|/);
    assert.match(text, /Monthly floor: \*\*\$2,922\*\*/);
  });

  it('explains keep_alive with its idle cost', () => {
    const text = hoverText('import fal\n\nclass A(fal.App, keep_al|ive=300):\n    machine_type = "GPU-H100"\n')!;
    assert.match(text, /Here: 5 min\./);
    assert.match(text, /up to \*\*\$0\.42\*\* per burst on GPU-H100/);
  });

  it('gives the monthly floor on min_concurrency and the ceiling on max_concurrency', () => {
    const body = '    machine_type = "GPU-H100"\n    min_con|currency = 2\n    max_concurrency = 10';
    assert.match(hoverText(APP(body))!, /\*\*\$7,301\/month\*\* with no traffic/);
    assert.match(hoverText(APP(body.replace('min_con|currency', 'min_concurrency').replace('max_concurrency', 'max_con|currency')))!,
      /up to \*\*\$50\.00\/h\*\* at full scale/);
  });

  it('multiplies by num_gpus', () => {
    assert.match(hoverText(APP('    machine_type = "GPU-H100"\n    num_g|pus = 4'))!, /4 × NVIDIA H100 \(320 GB VRAM in all\)/);
  });

  it('says what snapshot_after_setup does on the machine type at hand', () => {
    assert.match(hoverText(APP('    machine_type = "M"\n    snapshot_after_se|tup = True'))!, /setup\(\) runs once per revision; runners on M start with its result/);
    assert.match(hoverText(APP('    machine_type = "GPU-A100"\n    snapshot_after_se|tup = True'))!, /no effect on GPU-A100: CUDA state cannot cross a fork/);
  });

  it('has nothing to say about other code', () => {
    assert.equal(hoverText(APP('    mo|del_id = "abc"')), undefined);
  });
});

describe('quick fixes', () => {
  function fixesFor(text: string, code: string) {
    const analysis = open(text);
    const diagnostics: Diagnostic[] = diagnosticsFor(analysis).filter((diagnostic) => diagnostic.code === code);
    assert.equal(diagnostics.length, 1, `expected one ${code}`);
    return codeActionsFor(analysis, diagnostics).map((action) => ({
      title: action.title,
      result: applyEdits(text, action.edit!.changes![analysis.document.uri]!),
    }));
  }

  it('replaces an unknown machine type, keeping single quotes', () => {
    const [fix] = fixesFor(APP("    machine_type = 'GPU-A1000'"), 'unknown-machine-type');
    assert.equal(fix!.title, 'Change to "GPU-A100"');
    assert.match(fix!.result, /machine_type = 'GPU-A100'\n/);
  });

  it('swaps min and max concurrency', () => {
    const [fix] = fixesFor(APP('    min_concurrency = 5\n    max_concurrency = 2'), 'min-exceeds-max');
    assert.match(fix!.result, /min_concurrency = 2\n    max_concurrency = 5\n/);
  });

  it('moves a credential from env into an existing secrets list', () => {
    const text = APP('    env = {"MODEL": "v2", "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwx"}\n    secrets = ["API_KEY"]');
    const [fix] = fixesFor(text, 'credential-in-env');
    assert.equal(fix!.title, 'Move HF_TOKEN to secrets');
    assert.match(fix!.result, /env = \{"MODEL": "v2"\}\n    secrets = \["API_KEY", "HF_TOKEN"\]\n/);
  });

  it('moves a credential into a new secrets line when there is none', () => {
    const [fix] = fixesFor(APP('    env = {"OPENAI_API_KEY": "sk-abcdefghijklmnopqrstuvwxyz"}'), 'credential-in-env');
    assert.match(fix!.result, /env = \{\}\n    secrets = \["OPENAI_API_KEY"\]\n/);
  });

  it('removes a duplicate list item with its comma', () => {
    const [fix] = fixesFor(APP('    requirements = ["numpy==2.1.3", "Numpy==2.0"]'), 'duplicate-requirement');
    assert.match(fix!.result, /requirements = \["numpy==2\.1\.3"\]\n/);
  });
});

describe('code lenses and inlay hints', () => {
  it('puts Deploy and a cost summary above the class and Invoke above each endpoint', () => {
    const analysis = open(APP('    machine_type = "GPU-A10G"\n    min_concurrency = 1'));
    const titles = codeLensesFor(analysis).map((lens) => lens.command!.title);
    assert.deepEqual(titles, ['$(cloud-upload) Deploy', 'GPU-A10G · $1.10/h per runner · $804.17/month floor', '$(play) Invoke /run']);
    const invoke = codeLensesFor(analysis)[2]!;
    assert.equal(invoke.range.start.line, 5, "the decorator line");
    assert.deepEqual(invoke.command!.arguments![0].parameters, [{ name: 'prompt', annotation: 'str', hasDefault: false }]);
  });

  it('shows the price after machine_type and the duration after keep_alive', () => {
    const analysis = open(APP('    machine_type = ["GPU-A100", "GPU-H100"]\n    keep_alive = 300\n    min_concurrency = 1'));
    const all = { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } };
    assert.deepEqual(inlayHintsFor(analysis, all).map((hint) => hint.label), ['$2.00/h', '$5.00/h', '5 min', '$1,461/month floor']);
  });
});

describe('costs of a machine type the file does not name correctly', () => {
  it('are not quoted at the default type\'s price', () => {
    const analysis = open(APP('    machine_type = "GPU-A1000"\n    min_concurrency = 1'));
    const titles = codeLensesFor(analysis).map((lens) => lens.command!.title);
    assert.deepEqual(titles, ['$(cloud-upload) Deploy', '$(play) Invoke /run']);
    const all = { start: { line: 0, character: 0 }, end: { line: 100, character: 0 } };
    assert.deepEqual(inlayHintsFor(analysis, all), []);
    const { text, position } = withCursor(APP('    machine_type = "GPU-A1000"\n    min_con|currency = 1'));
    const hover = (hoverAt(open(text), position)!.contents as MarkupContent).value;
    assert.doesNotMatch(hover, /\$/);
  });
});

describe('keyword completion in front of another keyword', () => {
  it('inserts up to the cursor and replaces only when asked to', () => {
    const { text, position } = withCursor('import fal\n\nclass A(fal.App, |min_concurrency=1):\n    pass\n');
    const item = completionsAt(open(text), position).find((candidate) => candidate.label === 'keep_alive')!;
    const edit = item.textEdit as { insert: unknown; replace: unknown };
    assert.deepEqual(edit.insert, { start: { line: 2, character: 17 }, end: { line: 2, character: 17 } });
    assert.deepEqual(edit.replace, { start: { line: 2, character: 17 }, end: { line: 2, character: 32 } });
  });
});
