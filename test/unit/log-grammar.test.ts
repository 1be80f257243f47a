/**
 * The log view's grammar (syntaxes/kiln-log.tmLanguage.json), tokenized as VS Code does it,
 * over lines written by the one formatter the log view and `kiln logs` share.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as oniguruma from 'vscode-oniguruma';
import { INITIAL, type IGrammar, parseRawGrammar, Registry } from 'vscode-textmate';
import { formatLogRecord, NO_COLOURS } from '../../src/client/logLines';
import type { LogRecord } from '../../src/shared/api';

const file = path.resolve(__dirname, '..', '..', 'syntaxes', 'kiln-log.tmLanguage.json');
let grammar: IGrammar;

before(async () => {
  await oniguruma.loadWASM(readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer as ArrayBuffer);
  const registry = new Registry({
    onigLib: Promise.resolve({ createOnigScanner: (sources) => new oniguruma.OnigScanner(sources), createOnigString: (text) => new oniguruma.OnigString(text) }),
    loadGrammar: async (scopeName) => (scopeName === 'text.log.kiln' ? parseRawGrammar(readFileSync(file, 'utf8'), file) : null),
  });
  grammar = (await registry.loadGrammar('text.log.kiln'))!;
});

function line(over: Partial<LogRecord>): string {
  const record: LogRecord = { seq: 1, time: new Date().toISOString(), app: 'hello', revision: 1, runner: 'hello-r1-abc123', stream: 'stdout', level: 'info', text: 'hi', ...over };
  return formatLogRecord(record, NO_COLOURS, 15);
}

/** The scopes of the token whose text is `text`. */
function scopesOf(text: string, of: string): string[] {
  const { tokens } = grammar.tokenizeLine(text, INITIAL);
  const token = tokens.find((candidate) => text.slice(candidate.startIndex, candidate.endIndex) === of);
  assert.ok(token, `no token "${of}" in ${JSON.stringify(tokens.map((t) => text.slice(t.startIndex, t.endIndex)))}`);
  return token.scopes;
}

describe('the log view grammar', () => {
  it('colours the time, the runner and each stream differently', () => {
    const out = line({ text: 'Hello app is ready' });
    assert.ok(scopesOf(out, out.slice(0, 12)).includes('comment.line.time.kiln-log'));
    assert.ok(scopesOf(out, 'hello-r1-abc123').includes('entity.name.tag.runner.kiln-log'));
    assert.ok(scopesOf(out, 'stdout').includes('comment.line.stream.stdout.kiln-log'));
    assert.ok(scopesOf(line({ stream: 'stderr', text: 'oops' }), 'stderr').includes('string.regexp.stream.stderr.kiln-log'));
    assert.ok(scopesOf(line({ runner: null, stream: 'system', text: 'Runner started' }), 'system').includes('keyword.control.stream.system.kiln-log'));
  });

  it('marks levels and tracebacks in the text, and the runtime\'s failures', () => {
    assert.ok(scopesOf(line({ stream: 'stderr', text: 'WARNING:root:low memory' }), 'WARNING').includes('markup.deleted.log.warning.kiln-log'));
    assert.ok(scopesOf(line({ stream: 'stderr', text: 'Traceback (most recent call last):' }), 'Traceback (most recent call last)')
      .includes('string.regexp.strong.log.error.kiln-log'));
    assert.ok(scopesOf(line({ stream: 'stderr', text: 'ValueError: bad input' }), 'ValueError').includes('string.regexp.strong.log.error.kiln-log'));
    assert.ok(scopesOf(line({ runner: null, stream: 'system', level: 'error', text: 'Runner hello-r1-abc123 failed to start: boom' }), 'failed')
      .includes('string.regexp.strong.log.error.kiln-log'));
  });

  it('leaves a program\'s own words alone on stdout', () => {
    const text = line({ text: 'the build failed yesterday' });
    assert.ok(!scopesOf(text, 'the build failed yesterday').some((scope) => scope.includes('error')));
  });

  it('reads lines from another day, with the date in front', () => {
    const old = line({ time: '2020-01-02T03:04:05.678Z' });
    assert.match(old, /^2020-01-0\d \d\d:\d\d:05\.678 /);
    assert.ok(scopesOf(old, 'hello-r1-abc123').includes('entity.name.tag.runner.kiln-log'));
  });
});
