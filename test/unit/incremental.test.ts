/**
 * Edits read incrementally must give exactly what reading the new text afresh gives: every
 * app, range and diagnostic. Random edits over the spec's examples, from a fixed seed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { createPythonParser } from '../../src/pyparse';
import { type Analysis, AnalysisCache } from '../../src/server/analysis';
import { diagnosticsFor } from '../../src/server/diagnostics';

const source = readFileSync(path.resolve(__dirname, '..', 'fixtures', 'spec_examples.py'), 'utf8');
let incremental: AnalysisCache;
let fresh: AnalysisCache;

before(async () => {
  incremental = new AnalysisCache(await createPythonParser());
  fresh = new AnalysisCache(await createPythonParser());
});

/** A small deterministic generator, so a failure names a reproducible step. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const SNIPPETS = ['0', '\n', '\n    keep_alive = 30\n', 'x', '"', '    min_concurrency = 9\n', '\n\n', '# note\n', 'GPU-'];

function comparable(analysis: Analysis) {
  return { apps: analysis.apps.map(({ app, validation }) => ({ app, problems: validation.problems })), diagnostics: diagnosticsFor(analysis) };
}

describe('incremental reading', () => {
  it('matches a fresh read after each of 300 random edits', () => {
    const next = random(42);
    const uri = 'file:///incremental.py';
    let text = source;
    let version = 1;
    incremental.open(uri, 'python', version, text);
    for (let step = 0; step < 300; step++) {
      const lines = text.split('\n');
      const line = Math.floor(next() * lines.length);
      const character = Math.floor(next() * (lines[line]!.length + 1));
      const deleting = next() < 0.4;
      const endLine = deleting ? Math.min(lines.length - 1, line + Math.floor(next() * 3)) : line;
      const endCharacter = deleting ? Math.min(lines[endLine]!.length, endLine === line ? character + Math.floor(next() * 6) : Math.floor(next() * (lines[endLine]!.length + 1))) : character;
      const inserted = deleting && next() < 0.5 ? '' : SNIPPETS[Math.floor(next() * SNIPPETS.length)]!;
      const range = { start: { line, character }, end: { line: endLine, character: endCharacter } };
      const updated = incremental.change(uri, ++version, [{ range, text: inserted }])!;
      text = updated.document.getText();
      const reference = fresh.open(`file:///fresh-${step}.py`, 'python', 1, text);
      assert.deepEqual(comparable(updated), comparable(reference), `step ${step}: ${JSON.stringify({ range, inserted })}`);
      fresh.close(`file:///fresh-${step}.py`);
    }
  });
});
