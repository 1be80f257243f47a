import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const fixtures = 'test/fixtures/check';

function kiln(...args: string[]) {
  const result = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('kiln check', () => {
  it('prints one problem a line as path:line:col: severity code message and exits 1 on errors', () => {
    const { status, stdout } = kiln('check', `${fixtures}/broken_app.py`);
    assert.equal(status, 1);
    const lines = stdout.trim().split('\n');
    assert.ok(lines.includes(`${fixtures}/broken_app.py:4:34: error invalid-keep-alive keep_alive must be a whole number of seconds, 0 or more.`), stdout);
    assert.ok(lines.some((line) => line.startsWith(`${fixtures}/broken_app.py:5:20: error unknown-machine-type Unknown machine type "GPU-A1000". Did you mean "GPU-A100"?`)), stdout);
    assert.ok(lines.some((line) => line.startsWith(`${fixtures}/broken_app.py:6:23: error min-exceeds-max `)), stdout);
  });

  it('gives 1-based ranges in --json', () => {
    const { status, stdout } = kiln('check', '--json', `${fixtures}/broken_app.py`);
    assert.equal(status, 1);
    const problems = JSON.parse(stdout) as Record<string, unknown>[];
    assert.deepEqual(problems.find((problem) => problem.code === 'unknown-machine-type'), {
      file: `${fixtures}/broken_app.py`, line: 5, column: 20, endLine: 5, endColumn: 31, severity: 'error',
      code: 'unknown-machine-type', message: 'Unknown machine type "GPU-A1000". Did you mean "GPU-A100"?',
    });
  });

  it('is silent and exits 0 for a clean app, and searches folders', () => {
    assert.deepEqual(kiln('check', `${fixtures}/clean_app.py`), { status: 0, stdout: '', stderr: '' });
    const folder = kiln('check', fixtures);
    assert.equal(folder.status, 1);
    assert.match(folder.stdout, /broken_app\.py:5:20: error unknown-machine-type/);
    assert.doesNotMatch(folder.stdout, /clean_app\.py/);
  });

  it('exits 2 and says which file when one cannot be read', () => {
    const { status, stderr } = kiln('check', `${fixtures}/clean_app.py`, `${fixtures}/missing.py`);
    assert.equal(status, 2);
    assert.equal(stderr, `kiln check: cannot read ${fixtures}/missing.py: no such file\n`);
  });
});
