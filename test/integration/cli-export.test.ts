import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

const root = path.resolve(__dirname, '..', '..');
const out = mkdtempSync(path.join(os.tmpdir(), 'kiln-cli-export-'));
after(() => rmSync(out, { recursive: true, force: true }));

function kiln(...args: string[]) {
  const result = spawnSync(process.execPath, [path.join(root, 'dist', 'cli.js'), ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('kiln export (the bundled CLI)', () => {
  it('writes the folder, prints what did not map, and --check validates it (exit 0)', () => {
    const dir = path.join(out, 'secure');
    const { status, stdout, stderr } = kiln('export', 'examples/secure_model.py', '--target', 'knative', '--image', 'registry.example.com/secure:1', '-o', dir, '--check');
    assert.equal(status, 0, stderr);
    assert.match(stdout, /valid 1 manifests against the Kubernetes and Knative schemas/);
    assert.match(stderr, /warning queue API: /);
    assert.match(readFileSync(path.join(dir, 'manifests', 'knative.yaml'), 'utf8'), /secretKeyRef:\n\s+name: secure-model-secrets\n\s+key: HF_TOKEN/);
    for (const file of ['Containerfile', '.dockerignore', 'README.md', 'app/secure_model.py', 'kiln/kiln_harness/serve.py']) assert.ok(existsSync(path.join(dir, file)), file);
  });

  it('gives --json for scripts', () => {
    const { status, stdout } = kiln('export', 'examples/hello.py', '--target', 'kubernetes', '-o', path.join(out, 'hello'), '--check', '--json');
    assert.equal(status, 0);
    const report = JSON.parse(stdout) as { files: string[]; warnings: { key: string }[]; problems: unknown[] };
    assert.deepEqual(report.problems, []);
    assert.ok(report.files.includes('manifests/kubernetes.yaml'));
    assert.ok(report.warnings.some((warning) => warning.key === 'min_concurrency'));
  });

  it('refuses an app with configuration errors (exit 2), naming file and line, and writes nothing', () => {
    const dir = path.join(out, 'broken');
    const { status, stderr } = kiln('export', 'test/fixtures/check/broken_app.py', '--target', 'knative', '-o', dir);
    assert.equal(status, 2);
    assert.match(stderr, /broken_app\.py:5:20: unknown-machine-type/);
    assert.ok(!existsSync(dir));
  });

  it('needs --target', () => {
    const { status, stderr } = kiln('export', 'examples/hello.py');
    assert.equal(status, 2);
    assert.match(stderr, /required option '--target <target>'/);
  });
});
