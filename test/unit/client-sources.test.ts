import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { collectSources, importsOf, MAX_SOURCE_BYTES, SourcesError } from '../../src/client/sources';

const fixture = path.resolve(__dirname, '..', 'fixtures', 'sources', 'app');

describe('collectSources', () => {
  const { entry, files } = collectSources(path.join(fixture, 'app.py'));

  it('names the entry relative to its folder and puts it first', () => {
    assert.equal(entry, 'app.py');
    assert.equal(Object.keys(files)[0], 'app.py');
  });

  it('takes the local modules and packages the entry imports, transitively, and nothing else', () => {
    assert.deepEqual(Object.keys(files).sort(), [
      'app.py',
      'helper.py',
      'late.py',
      'models/__init__.py',
      'models/loader.py',
      'models/sub/__init__.py',
      'models/sub/deep.py',
      'models/weights.py',
      'multi_a.py',
      'multi_b.py',
      'namespace_pkg/mod.py',
      'optional_mod.py',
      'paren_mod.py',
      'rel_helper.py',
      // Imported by models/loader.py, not by the entry.
      'shared_util.py',
    ]);
  });

  it('carries each file as its UTF-8 text', () => {
    assert.equal(files['models/weights.py'], 'PATH = "/models/w.bin"\n');
  });

  it('uploads a package whole, so imports inside it need no following', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-sources-'));
    after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(path.join(root, 'pkg', '__pycache__'), { recursive: true });
    mkdirSync(path.join(root, 'pkg', '.hidden'));
    writeFileSync(path.join(root, 'main.py'), 'from pkg.sub import y\n');
    writeFileSync(path.join(root, 'pkg', '__init__.py'), '');
    writeFileSync(path.join(root, 'pkg', 'sub.py'), 'y = 1\n');
    writeFileSync(path.join(root, 'pkg', 'other.py'), 'z = 1\n');
    writeFileSync(path.join(root, 'pkg', '__pycache__', 'sub.cpython-311.py'), '');
    writeFileSync(path.join(root, 'pkg', '.hidden', 'tool.py'), '');
    assert.deepEqual(Object.keys(collectSources(path.join(root, 'main.py')).files).sort(),
      ['main.py', 'pkg/__init__.py', 'pkg/other.py', 'pkg/sub.py']);
  });

  it('refuses sources over the size cap, saying where weights belong', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'kiln-sources-'));
    after(() => rmSync(root, { recursive: true, force: true }));
    writeFileSync(path.join(root, 'main.py'), 'import weights\n');
    writeFileSync(path.join(root, 'weights.py'), `DATA = "${'x'.repeat(MAX_SOURCE_BYTES)}"\n`);
    assert.throws(() => collectSources(path.join(root, 'main.py')), (error: Error) =>
      error instanceof SourcesError && /pass 5 MB at weights\.py/.test(error.message) && /fal\.Volume/.test(error.message));
  });

  it('says which file is missing', () => {
    assert.throws(() => collectSources(path.join(fixture, 'nope.py')), (error: Error) =>
      error instanceof SourcesError && error.message === `cannot read ${path.join(fixture, 'nope.py')}: no such file`);
  });
});

describe('importsOf', () => {
  it('reads every import form, with levels and the names taken', () => {
    const source = [
      'import a.b as c, d',
      'from x.y import (p,',
      '    q as r)',
      'from .. import up',
      'from .sib import thing',
      'if True: import inline',
      'x = 1; import after_semicolon',
      'import \\',
      '    continued',
    ].join('\n');
    assert.deepEqual(importsOf(source), [
      { level: 0, module: 'a.b', names: [] },
      { level: 0, module: 'd', names: [] },
      { level: 0, module: 'x.y', names: ['p', 'q'] },
      { level: 2, module: '', names: ['up'] },
      { level: 1, module: 'sib', names: ['thing'] },
      { level: 0, module: 'inline', names: [] },
      { level: 0, module: 'after_semicolon', names: [] },
      { level: 0, module: 'continued', names: [] },
    ]);
  });

  it('ignores imports written in strings and comments', () => {
    const source = [
      '"""',
      'import in_docstring',
      '"""',
      "s = 'import in_string'",
      'b = rb"from raw import x \\" import escaped"',
      '# import in_comment',
      "t = '''from triple import y'''",
      'import real',
    ].join('\n');
    assert.deepEqual(importsOf(source), [{ level: 0, module: 'real', names: [] }]);
  });
});
