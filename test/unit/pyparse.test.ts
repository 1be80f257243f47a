/**
 * The static Python reader: which classes are fal Apps, what their configuration says, where
 * each part is, and that half-typed files are read as far as they can be and never throw.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type AppInput, UNCHECKED, validateApp, VolumeRef } from '../../src/appconfig';
import {
  createPythonParser, type ExtractedApp, extractApps, findOption, isFalName, type Range, rangeContains,
  rangeOfTarget, stringValue,
} from '../../src/pyparse';
import { readFile, textIn } from '../support/pyapps';

const fixture = (name: string) => readFileSync(path.join(__dirname, '..', 'fixtures', name), 'utf8');

const at = (line: number, start: number, end: number, endLine = line): Range =>
  ({ start: { line, character: start }, end: { line: endLine, character: end } });

function appNamed(apps: ExtractedApp[], className: string): ExtractedApp {
  const app = apps.find((candidate) => candidate.className === className);
  assert.ok(app, `no App ${className} among ${apps.map((a) => a.className).join(', ')}`);
  return app;
}

/** The value of one option of the only App in `source`. */
async function valueOf(source: string, key: string): Promise<unknown> {
  const { apps } = await readFile(source);
  assert.equal(apps.length, 1);
  const option = findOption(apps[0]!, key);
  assert.ok(option, `no option ${key}`);
  return option.value.value;
}

/** The value `expression` evaluates to as a class attribute. */
const evaluated = (expression: string) => valueOf(`import fal\n\nclass Demo(fal.App):\n    value = ${expression}\n`, 'value');

describe('the spec\'s examples', () => {
  const source = fixture('spec_examples.py');
  const endpoint = (path: string, functionName: string, parameters: AppInput['endpoints'][number]['parameters'] = []) =>
    ({ path, functionName, parameters, isAsync: false });
  const EXPECTED: AppInput[] = [
    {
      className: 'TextToImage',
      options: [
        { key: 'keep_alive', value: 300, source: 'keyword' },
        { key: 'machine_type', value: 'GPU-A100', source: 'attribute' },
        { key: 'requirements', value: ['torch', 'diffusers', 'transformers'], source: 'attribute' },
      ],
      endpoints: [endpoint('/generate', 'generate', [
        { name: 'prompt', annotation: 'str', hasDefault: false },
        { name: 'steps', annotation: 'int', hasDefault: true },
      ])],
      methods: ['setup', 'generate'],
    },
    { className: 'MyModel', options: [{ key: 'keep_alive', value: 300, source: 'keyword' }], endpoints: [], methods: [] },
    {
      className: 'HighThroughput',
      options: [
        { key: 'machine_type', value: 'GPU-H100', source: 'attribute' },
        { key: 'min_concurrency', value: 2, source: 'attribute' },
        { key: 'max_concurrency', value: 10, source: 'attribute' },
      ],
      endpoints: [],
      methods: [],
    },
    {
      className: 'LargeModel',
      options: [{ key: 'machine_type', value: 'GPU-H100', source: 'attribute' }, { key: 'num_gpus', value: 4, source: 'attribute' }],
      endpoints: [],
      methods: [],
    },
    {
      className: 'ModelWithStorage',
      options: [
        { key: 'machine_type', value: 'GPU-A100', source: 'attribute' },
        { key: 'volumes', value: { '/models': new VolumeRef('model-cache'), '/data': new VolumeRef('user-data') }, source: 'attribute' },
      ],
      endpoints: [],
      methods: ['setup'],
    },
    {
      className: 'SecureModel',
      options: [
        { key: 'machine_type', value: 'GPU-A10G', source: 'attribute' },
        { key: 'env', value: { MODEL_VERSION: 'v2.0', DEBUG: 'false' }, source: 'attribute' },
        { key: 'secrets', value: ['HF_TOKEN', 'API_KEY'], source: 'attribute' },
      ],
      endpoints: [],
      methods: ['setup'],
    },
    {
      className: 'ProductionModel',
      options: [{ key: 'machine_type', value: 'GPU-A100', source: 'attribute' }],
      endpoints: [endpoint('/health', 'health')],
      methods: ['health'],
    },
    {
      className: 'BatchProcessor',
      options: [{ key: 'machine_type', value: 'GPU-H100', source: 'attribute' }],
      endpoints: [endpoint('/batch', 'process_batch', [{ name: 'items', annotation: 'list[str]', hasDefault: false }])],
      methods: ['process_batch'],
    },
    {
      className: 'RobustModel',
      options: [{ key: 'machine_type', value: 'GPU-A100', source: 'attribute' }],
      endpoints: [endpoint('/generate', 'generate', [{ name: 'prompt', annotation: 'str', hasDefault: false }])],
      methods: ['generate'],
    },
  ];

  it('finds every App class, in order, with its keywords, attributes, endpoints and methods exactly as written', async () => {
    const file = await readFile(source);
    assert.equal(file.importsFal, true);
    assert.deepEqual(file.apps.map((app) => app.input), EXPECTED);
  });

  it('knows where each part is', async () => {
    const { apps } = await readFile(source);
    const textToImage = appNamed(apps, 'TextToImage');
    assert.deepEqual(textToImage.classNameRange, at(2, 6, 17));
    assert.equal(textIn(source, textToImage.superclassesRange), '(fal.App, keep_alive=300)');
    const keepAlive = findOption(textToImage, 'keep_alive')!;
    assert.deepEqual(keepAlive.keyRange, at(2, 27, 37));
    assert.deepEqual(keepAlive.value.range, at(2, 38, 41));
    assert.equal(textIn(source, keepAlive.statementRange), 'keep_alive=300');
    assert.equal(textIn(source, findOption(textToImage, 'requirements')!.value.items![1]!.range), '"diffusers"');
    assert.equal(textIn(source, findOption(textToImage, 'machine_type')!.statementRange), 'machine_type = "GPU-A100"');
    const [generate] = textToImage.endpoints;
    assert.deepEqual(generate!.pathRange, at(19, 18, 29));
    assert.deepEqual(generate!.functionNameRange, at(20, 8, 16));
    assert.deepEqual(generate!.parameters.map((parameter) => textIn(source, parameter.range)), ['prompt: str', 'steps: int = 30']);
    assert.equal(textIn(source, generate!.range).split('\n')[0], '@fal.endpoint("/generate")');
    assert.deepEqual(textToImage.bodyStart, { line: 3, character: 4 });
    assert.equal(textToImage.bodyIndent, '    ');

    const storage = appNamed(apps, 'ModelWithStorage');
    const [models] = findOption(storage, 'volumes')!.value.entries!;
    assert.deepEqual(models!.keyRange, at(48, 8, 17));
    assert.equal(textIn(source, models!.value.range), 'fal.Volume("model-cache")');
    assert.equal(textIn(source, findOption(appNamed(apps, 'SecureModel'), 'secrets')!.value.items![0]!.range), '"HF_TOKEN"');
  });

  it('all validate without an error', async () => {
    const { apps } = await readFile(source);
    for (const app of apps) {
      const { problems, config } = validateApp(app.input);
      assert.deepEqual(problems.filter((problem) => problem.severity === 'error'), [], app.className);
      assert.notEqual(config, null, app.className);
    }
  });
});

describe('half-typed and broken files', () => {
  it('still yield what is readable, with no error for the parts being typed', async () => {
    const source = fixture('python/half_typed.py');
    const { apps } = await readFile(source);
    // The unfinished `class Next(fal.Ap` is not a class yet.
    assert.deepEqual(apps.map((app) => app.className), ['Typing']);
    const [app] = apps;
    assert.deepEqual(app!.input.options, [
      // An unclosed string.
      { key: 'machine_type', value: UNCHECKED, source: 'attribute' },
      { key: 'keep_alive', value: 300, source: 'attribute' },
      // `num_gpus =` with its value missing is skipped, and the line after it is still read.
      { key: 'max_concurrency', value: 3, source: 'attribute' },
      // Two values with no operator between them.
      { key: 'request_timeout', value: UNCHECKED, source: 'attribute' },
      { key: 'secrets', value: ['HF_TOKEN'], source: 'attribute' },
    ]);
    // A syntax error inside one endpoint's body leaves both endpoints readable.
    assert.deepEqual(app!.input.endpoints.map((endpoint) => endpoint.path), ['/first', '/second']);
    assert.equal(textIn(source, findOption(app!, 'max_concurrency')!.statementRange), 'max_concurrency = 3');
    assert.deepEqual(validateApp(app!.input).problems, []);
  });

  it('do not take a value from a later line for a dict still being typed', async () => {
    const { apps } = await readFile('import fal\n\nclass Demo(fal.App):\n    env = {"A": "b", "C":\n    keep_alive = 5\n');
    assert.deepEqual(apps[0]!.input.options, [{ key: 'env', value: UNCHECKED, source: 'attribute' }]);
    assert.deepEqual(validateApp(apps[0]!.input).problems.map((problem) => problem.code), ['no-endpoints']);
  });

  it('do not take a value from a later line for a list still being typed', async () => {
    const { apps } = await readFile('import fal\n\nclass Demo(fal.App):\n    machine_type = ["GPU-A100" "GPU-H100",\n    num_gpus = 2\n');
    assert.deepEqual(apps[0]!.input.options, [{ key: 'machine_type', value: UNCHECKED, source: 'attribute' }]);
  });

  it('skip a class keyword whose value is missing and read the others', async () => {
    const { apps } = await readFile('import fal\n\nclass Demo(fal.App, keep_alive=, max_concurrency=2):\n    machine_type = "GPU-A100"\n');
    assert.deepEqual(apps[0]!.input.options, [
      { key: 'max_concurrency', value: 2, source: 'keyword' },
      { key: 'machine_type', value: 'GPU-A100', source: 'attribute' },
    ]);
  });

  it('keep the Apps before a class header still being typed', async () => {
    const { apps } = await readFile('import fal\n\nclass Done(fal.App):\n    machine_type = "GPU-T4"\n\nclass Next(fal.App\n');
    assert.deepEqual(apps.map((app) => app.className), ['Done']);
    assert.deepEqual(apps[0]!.input.options, [{ key: 'machine_type', value: 'GPU-T4', source: 'attribute' }]);
  });

  it('read an App below a syntax error elsewhere in the file', async () => {
    const { apps } = await readFile('import fal\n\ndef helper(:\n    return )\n\nclass Later(fal.App, keep_alive=10):\n    machine_type = "GPU-T4"\n');
    assert.deepEqual(apps.map((app) => app.input.options), [[
      { key: 'keep_alive', value: 10, source: 'keyword' },
      { key: 'machine_type', value: 'GPU-T4', source: 'attribute' },
    ]]);
  });

  it('never throw, at any point of typing a file out character by character', async () => {
    // real_world.py holds every configuration shape the reader knows; spec_examples.py adds none.
    for (const name of ['python/real_world.py', 'python/half_typed.py']) {
      const source = fixture(name);
      for (let length = 0; length <= source.length; length++) {
        const prefix = source.slice(0, length);
        const { apps } = await readFile(prefix);
        for (const app of apps) {
          const { problems } = validateApp(app.input);
          for (const problem of problems) {
            const range = rangeOfTarget(app, problem.target);
            assert.ok(range.start.line <= range.end.line, `${name} at ${length}: ${problem.code}`);
          }
        }
      }
    }
  });
});

describe('real-world shapes', () => {
  const source = fixture('python/real_world.py');

  it('finds the fal Apps and ignores a plain class with a machine_type', async () => {
    const { apps } = await readFile(source);
    assert.deepEqual(apps.map((app) => app.className), ['Turbo', 'Upscaler']);
  });

  it('reads keywords, arithmetic, machine type lists, annotated attributes and strings', async () => {
    const { apps } = await readFile(source);
    const turbo = appNamed(apps, 'Turbo');
    const options = Object.fromEntries(turbo.input.options.map((option) => [`${option.source}:${option.key}`, option.value]));
    assert.deepEqual(options, {
      'keyword:keep_alive': 300,
      'keyword:max_concurrency': 4,
      'keyword:name': 'sdxl-turbo',
      'attribute:machine_type': ['GPU-A10G', 'GPU-A100'],
      'attribute:requirements': ['diffusers==0.30.3', 'torch==2.4.1', 'transformers==4.45.2'],
      'attribute:min_concurrency': 0,
      'attribute:request_timeout': 150,
      'attribute:concurrency_buffer': 0,
      'attribute:env': { GREETING: 'tab\there, quote " and joined', TEMPLATE: UNCHECKED, STATIC: 'no fields' },
      'attribute:model_dir': '/models',
    });
  });

  it('reads pydantic inputs, async endpoints, keyword-only and positional-only parameters, and skips *args/**kwargs', async () => {
    const { apps } = await readFile(source);
    assert.deepEqual(appNamed(apps, 'Turbo').input.endpoints, [
      { path: '/', functionName: 'generate', parameters: [{ name: 'input', annotation: 'Input', hasDefault: false }], isAsync: false },
      {
        path: '/stream',
        functionName: 'stream',
        parameters: [
          { name: 'prompt', annotation: 'str', hasDefault: false },
          { name: 'seed', annotation: 'int | None', hasDefault: true },
          { name: 'strength', annotation: 'float', hasDefault: true },
        ],
        isAsync: true,
      },
    ]);
    assert.deepEqual(appNamed(apps, 'Upscaler').input.endpoints, [{
      path: '/upscale',
      functionName: 'upscale',
      parameters: [{ name: 'image_url', annotation: 'str', hasDefault: false }, { name: 'scale', annotation: 'int', hasDefault: true }],
      isAsync: false,
    }]);
  });

  it('lists every method, decorated or not, but only @fal.endpoint ones as endpoints', async () => {
    const { apps } = await readFile(source);
    assert.deepEqual(appNamed(apps, 'Turbo').input.methods, ['setup', 'teardown', 'generate', 'stream', 'helper', 'not_an_endpoint']);
  });

  it('validates clean', async () => {
    const { apps } = await readFile(source);
    for (const app of apps) assert.deepEqual(validateApp(app.input).problems, [], app.className);
  });

  it('reports nothing for a file that never imports fal', async () => {
    const file = await readFile(fixture('python/no_fal.py'));
    assert.equal(file.importsFal, false);
    assert.deepEqual(file.apps, []);
  });
});

describe('how a file names fal', () => {
  const APP_BODY = '    machine_type = "GPU-T4"\n';

  it('import fal as f', async () => {
    const file = await readFile(`import fal as f\n\nclass A(f.App, keep_alive=5):\n    volumes = {"/m": f.Volume("cache")}\n\n    @f.endpoint("/x")\n    def x(self) -> dict:\n        return {}\n`);
    assert.deepEqual([...file.fal.modules], ['f']);
    assert.deepEqual(file.apps[0]!.input.options.map((option) => option.value), [5, { '/m': new VolumeRef('cache') }]);
    assert.deepEqual(file.apps[0]!.input.endpoints.map((endpoint) => endpoint.path), ['/x']);
  });

  it('from fal import App, endpoint (parenthesised, over lines)', async () => {
    const file = await readFile(`from fal import (\n    App,\n    endpoint,\n    Volume,\n)\n\nclass A(App):\n    volumes = {"/m": Volume(name="cache")}\n\n    @endpoint(path="/x")\n    def x(self) -> dict:\n        return {}\n`);
    assert.deepEqual(file.apps[0]!.input.options[0]!.value, { '/m': new VolumeRef('cache') });
    assert.deepEqual(file.apps[0]!.input.endpoints.map((endpoint) => endpoint.path), ['/x']);
  });

  it('from fal import App as Base', async () => {
    const file = await readFile(`from fal import App as Base, endpoint as route\n\nclass A(Base):\n${APP_BODY}\n    @route("/x")\n    def x(self) -> dict:\n        return {}\n\nclass NotAnApp(App):\n${APP_BODY}`);
    assert.deepEqual(file.apps.map((app) => app.className), ['A']);
    assert.deepEqual(file.apps[0]!.input.endpoints.map((endpoint) => endpoint.functionName), ['x']);
  });

  it('from fal import *', async () => {
    const file = await readFile(`from fal import *\n\nclass A(App):\n${APP_BODY}\n    @endpoint("/x")\n    def x(self) -> dict:\n        return {}\n`);
    assert.equal(file.fal.wildcard, true);
    assert.deepEqual(file.apps[0]!.input.endpoints.map((endpoint) => endpoint.path), ['/x']);
  });

  it('import fal.toolkit binds fal; from fal.app import App counts too', async () => {
    const toolkit = await readFile(`import fal.toolkit\n\nclass A(fal.App):\n${APP_BODY}`);
    assert.deepEqual(toolkit.apps.map((app) => app.className), ['A']);
    const submodule = await readFile(`from fal.app import App\n\nclass A(App):\n${APP_BODY}`);
    assert.deepEqual(submodule.apps.map((app) => app.className), ['A']);
  });

  it('ignores look-alikes: another module\'s App, an alias of a fal submodule, an undecorated endpoint name', async () => {
    const file = await readFile(`import fal\nimport other\nimport fal.toolkit as tk\n\nclass A(other.App):\n${APP_BODY}\nclass B(tk.App):\n${APP_BODY}\nclass C(fal.App):\n    @other.endpoint("/x")\n    def x(self) -> dict:\n        return {}\n\n    @fal.endpoint\n    def y(self) -> dict:\n        return {}\n`);
    assert.deepEqual(file.apps.map((app) => app.className), ['C']);
    assert.deepEqual(file.apps[0]!.input.endpoints, []);
    assert.deepEqual(file.apps[0]!.input.methods, ['x', 'y']);
  });

  it('isFalName answers from the bindings, not the text "fal"', async () => {
    const parser = await createPythonParser();
    const tree = parser.parse('import fal as f\nfrom fal import Volume as V\nx = f.App\ny = fal.App\nz = V\n')!;
    const bindings = extractApps(tree).fal;
    const values = tree.rootNode.descendantsOfType('assignment').map((assignment) => assignment!.childForFieldName('right')!);
    assert.deepEqual(values.map((node) => [isFalName(node, 'App', bindings), isFalName(node, 'Volume', bindings)]),
      [[true, false], [false, false], [false, true]]);
  });
});

describe('several Apps in one file', () => {
  it('reads each, decorated classes included, and maps targets to the right one', async () => {
    const source = 'import fal\n\nclass First(fal.App):\n    keep_alive = -1\n\n@register\nclass Second(fal.App):\n    keep_alive = -2\n';
    const { apps } = await readFile(source);
    assert.deepEqual(apps.map((app) => app.className), ['First', 'Second']);
    const second = appNamed(apps, 'Second');
    assert.equal(textIn(source, second.range).split('\n')[0], '@register');
    const [problem] = validateApp(second.input).problems.filter((p) => p.code === 'invalid-keep-alive');
    assert.equal(textIn(source, rangeOfTarget(second, problem!.target)), '-2');
  });
});

describe('evaluate', () => {
  const cases: [expression: string, value: unknown][] = [
    ['300', 300],
    ['1_000', 1000],
    ['0x1F', 31],
    ['0o17', 15],
    ['0b101', 5],
    ['-5', -5],
    ['+5', 5],
    ['-(-5)', 5],
    ['2.5', 2.5],
    ['1e3', 1000],
    ['True', true],
    ['False', false],
    ['None', null],
    ['5 * 60', 300],
    ['2 ** 10', 1024],
    ['600 / 4', 150],
    ['7 // 2', 3],
    ['-7 // 2', -4],
    ['-7 % 3', 2],
    ['(60 + 30) * 2', 180],
    ['"GPU-A100"', 'GPU-A100'],
    ["'single'", 'single'],
    ['"""triple\nline"""', 'triple\nline'],
    ['"tab\\tnew\\nquote\\"back\\\\"', 'tab\tnew\nquote"back\\'],
    ['"\\x41\\u00e9\\U0001F600\\101"', 'Aé😀A'],
    ['"é😀\\t"', 'é😀\t'],
    ['r"C:\\new\\table"', 'C:\\new\\table'],
    ['"not \\d an escape"', 'not \\d an escape'],
    ['"line \\\ncontinued"', 'line continued'],
    ['"line \\\r\ncontinued"', 'line continued'],
    ['"GPU-" "A100"', 'GPU-A100'],
    ['("GPU-"\n     "A100")', 'GPU-A100'],
    ['f"static"', 'static'],
    ['f"{{braces}}"', '{braces}'],
    ['rf"{{raw}}\\n"', '{raw}\\n'],
    ['["a", 1, [True]]', ['a', 1, [true]]],
    ['("GPU-A100",)', ['GPU-A100']],
    ['{"A": "1", "B": ["x"]}', { A: '1', B: ['x'] }],
    ['{}', {}],
    ['[]', []],
  ];
  for (const [expression, value] of cases) {
    it(`${JSON.stringify(expression)} -> ${JSON.stringify(value)}`, async () => assert.deepEqual(await evaluated(expression), value));
  }

  const uncheckedCases = [
    'SOME_CONSTANT',
    'settings.keep_alive',
    'int(os.environ["KEEP_ALIVE"])',
    'f"/{VERSION}/generate"',
    'f"{x!r:>10}"',
    '"prefix-" f"{name}"',
    'b"bytes"',
    '"\\N{EM DASH}"',
    '1j',
    '10 ** 400',
    '2 ** 60',
    '99999999999999999999',
    '1 / 0',
    '5 % 0',
    'MINUTES * 5',
    '"a" * 3',
    '-"a"',
    'not True',
    '{"a", "b"}',
    '[x for x in y]',
    'lambda: 1',
    '3 if flag else 4',
  ];
  for (const expression of uncheckedCases) {
    it(`${JSON.stringify(expression)} -> UNCHECKED`, async () => assert.equal(await evaluated(expression), UNCHECKED));
  }

  it('keeps UNCHECKED items in place inside lists and dicts, and skips dict keys that are not string literals', async () => {
    assert.deepEqual(await evaluated('["numpy==2.1.3", TORCH, *EXTRA]'), ['numpy==2.1.3', UNCHECKED, UNCHECKED]);
    assert.deepEqual(await evaluated('{"A": VALUE, KEY: "x", 1: "y", **BASE, "B": "b"}'), { A: UNCHECKED, B: 'b' });
  });

  it('reads fal.Volume by position or by name=, keeping whatever the name holds', async () => {
    assert.deepEqual(await evaluated('{"/a": fal.Volume("a"), "/b": fal.Volume(name="b"), "/c": fal.Volume(NAME), "/d": fal.Volume()}'), {
      '/a': new VolumeRef('a'), '/b': new VolumeRef('b'), '/c': new VolumeRef(UNCHECKED), '/d': new VolumeRef(undefined),
    });
  });

  it('gives each list item and dict entry its own range', async () => {
    const source = 'import fal\n\nclass Demo(fal.App):\n    value = {"A": ["x", "yy"]}\n';
    const { apps } = await readFile(source);
    const value = findOption(apps[0]!, 'value')!.value;
    const [entry] = value.entries!;
    assert.equal(textIn(source, entry!.keyRange), '"A"');
    assert.equal(textIn(source, entry!.value.range), '["x", "yy"]');
    assert.equal(textIn(source, entry!.value.items![1]!.range), '"yy"');
  });

  it('stringValue reads only string literals', async () => {
    const parser = await createPythonParser();
    const tree = parser.parse('x = "a" "b"\ny = name\n')!;
    const [first, second] = tree.rootNode.descendantsOfType('assignment').map((node) => node!.childForFieldName('right')!);
    assert.equal(stringValue(first!), 'ab');
    assert.equal(stringValue(second!), undefined);
  });
});

describe('rangeOfTarget', () => {
  const source = `import fal

class Demo(fal.App, keep_alive=300):
    keep_alive = 30
    env = {"DEBUG": "1"}

    @fal.endpoint("/run")
    def run(self, prompt: str, steps) -> str:
        return prompt

    def __init__(self):
        pass
`;

  it('maps each kind of target to the exact text it names', async () => {
    const { apps } = await readFile(source);
    const app = apps[0]!;
    const text = (target: Parameters<typeof rangeOfTarget>[1]) => textIn(source, rangeOfTarget(app, target));
    assert.equal(text({ kind: 'class' }), 'Demo');
    // Without a source, the attribute: the one validation judges.
    assert.equal(text({ kind: 'option', key: 'keep_alive', at: 'value' }), '30');
    assert.deepEqual(rangeOfTarget(app, { kind: 'option', key: 'keep_alive', source: 'attribute', at: 'value' }), at(3, 17, 19));
    assert.equal(text({ kind: 'option', key: 'keep_alive', source: 'keyword', at: 'key' }), 'keep_alive');
    assert.equal(text({ kind: 'option', key: 'env', at: 'value', item: 'DEBUG', itemAt: 'key' }), '"DEBUG"');
    assert.equal(text({ kind: 'option', key: 'env', at: 'value', item: 'DEBUG', itemAt: 'value' }), '"1"');
    assert.equal(text({ kind: 'endpoint', index: 0, at: 'path' }), '"/run"');
    assert.equal(text({ kind: 'endpoint', index: 0, at: 'function' }), 'run');
    assert.equal(text({ kind: 'parameter', endpoint: 0, parameter: 'steps' }), 'steps');
    assert.deepEqual(rangeOfTarget(app, { kind: 'parameter', endpoint: 0, parameter: 'prompt' }), at(7, 18, 29));
    assert.equal(text({ kind: 'method', name: '__init__' }), '__init__');
  });

  it('falls back to the whole value, then to the class name, when the part is gone', async () => {
    const { apps } = await readFile(source);
    const app = apps[0]!;
    const text = (target: Parameters<typeof rangeOfTarget>[1]) => textIn(source, rangeOfTarget(app, target));
    assert.equal(text({ kind: 'option', key: 'env', at: 'value', item: 'MISSING' }), '{"DEBUG": "1"}');
    assert.equal(text({ kind: 'option', key: 'secrets', at: 'value' }), 'Demo');
    assert.equal(text({ kind: 'endpoint', index: 5, at: 'path' }), 'Demo');
    assert.equal(text({ kind: 'parameter', endpoint: 0, parameter: 'nope' }), 'Demo');
    assert.equal(text({ kind: 'method', name: 'setup' }), 'Demo');
  });

  it('points at the decorator when an endpoint has no path argument', async () => {
    const src = 'import fal\n\nclass Demo(fal.App):\n    @fal.endpoint()\n    def run(self) -> dict:\n        return {}\n';
    const { apps } = await readFile(src);
    const [problem] = validateApp(apps[0]!.input).problems.filter((p) => p.code === 'invalid-endpoint-path');
    assert.equal(textIn(src, rangeOfTarget(apps[0]!, problem!.target)), '@fal.endpoint()');
  });

  it('counts characters in UTF-16 code units, as LSP does', async () => {
    const src = 'import fal\n\nclass Demo(fal.App):\n    env = {"GREETING": "héllo 😀", "BAD": 1}\n';
    const { apps } = await readFile(src);
    const [problem] = validateApp(apps[0]!.input).problems.filter((p) => p.code === 'invalid-env-value');
    // 😀 is two UTF-16 code units: counted in code points, the 1 would start at 41.
    assert.deepEqual(rangeOfTarget(apps[0]!, problem!.target), at(3, 42, 43));
    assert.ok(rangeContains(at(3, 42, 43), { line: 3, character: 43 }));
  });
});
