/**
 * The injection grammar, tokenized as VS Code does it: vscode-textmate with Oniguruma, over the
 * Python grammar VS Code ships (MagicPython, from tm-grammars), with Kiln's injection into it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as oniguruma from 'vscode-oniguruma';
import { INITIAL, type IGrammar, parseRawGrammar, Registry } from 'vscode-textmate';

const root = path.resolve(__dirname, '..', '..');
let grammar: IGrammar;

before(async () => {
  await oniguruma.loadWASM(readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer as ArrayBuffer);
  const registry = new Registry({
    onigLib: Promise.resolve({ createOnigScanner: (sources) => new oniguruma.OnigScanner(sources), createOnigString: (text) => new oniguruma.OnigString(text) }),
    loadGrammar: async (scopeName) => {
      const file = scopeName === 'source.python' ? require.resolve('tm-grammars/grammars/python.json')
        : scopeName === 'kiln.python.injection' ? path.join(root, 'syntaxes', 'kiln-python.injection.json') : undefined;
      return file ? parseRawGrammar(readFileSync(file, 'utf8'), file) : null;
    },
    getInjections: (scopeName) => (scopeName === 'source.python' ? ['kiln.python.injection'] : undefined),
  });
  grammar = (await registry.loadGrammar('source.python'))!;
});

/** The scopes of each token of the source's lines, as `text -> scopes`. */
function tokens(source: string): { text: string; scopes: string[] }[] {
  let state = INITIAL;
  return source.split('\n').flatMap((line) => {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    return result.tokens.map((token) => ({ text: line.slice(token.startIndex, token.endIndex), scopes: token.scopes }));
  });
}

const scopesOf = (source: string, text: string) => tokens(source).find((token) => token.text === text)?.scopes ?? [];

describe('the injection grammar', () => {
  it('marks a machine-type string, alone and in a fallback list', () => {
    const source = 'class A(fal.App):\n    machine_type = "GPU-A100"\n    other = ["GPU-H100"]\n';
    assert.ok(scopesOf(source, 'GPU-A100').includes('support.constant.machine-type.kiln'));
    assert.ok(!scopesOf(source, 'GPU-H100').includes('support.constant.machine-type.kiln'), 'only machine_type values');
    const list = 'class A(fal.App):\n    machine_type = ["GPU-A10G", "GPU-A100"]\n';
    assert.ok(scopesOf(list, 'GPU-A10G').includes('support.constant.machine-type.kiln'));
    assert.ok(scopesOf(list, 'GPU-A100').includes('support.constant.machine-type.kiln'));
  });

  it('marks the path of an indented endpoint decorator', () => {
    const source = 'class A(fal.App):\n    @fal.endpoint("/generate")\n    def generate(self): ...\n';
    assert.ok(scopesOf(source, '/generate').includes('markup.underline.link.endpoint-path.kiln'));
  });

  it('leaves comments and ordinary strings alone', () => {
    const source = '# machine_type = "GPU-A100"\nlabel = "/generate"\n';
    assert.ok(!tokens(source).some((token) => token.scopes.some((scope) => scope.endsWith('.kiln'))));
  });
});
