import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ensureRuntime, locateRuntime, resolveDataDir, RuntimeConfigError, RuntimeStartError } from '../../src/client';
import type { RuntimeInfo } from '../../src/shared/api';
import { runtimeInfoPath } from '../../src/shared/dataDir';

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kiln-discovery-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeInfo(dataDir: string, pid: number): RuntimeInfo {
  const info: RuntimeInfo = { url: 'http://127.0.0.1:8411', token: 't0k3n', pid, dataDir, version: '0.1.0', startedAt: new Date().toISOString() };
  writeFileSync(runtimeInfoPath(dataDir), JSON.stringify(info), { mode: 0o600 });
  return info;
}

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

describe('locateRuntime', () => {
  it('finds the runtime named in runtime.json while its process is alive', () => {
    const dataDir = tempDir();
    const info = writeInfo(dataDir, process.pid);
    assert.deepEqual(locateRuntime({ dataDir, env: {} }), { url: info.url, token: info.token, source: 'runtime.json', info });
  });

  it('treats a runtime.json whose process is gone as no runtime', () => {
    const dataDir = tempDir();
    writeInfo(dataDir, deadPid());
    assert.equal(locateRuntime({ dataDir, env: {} }), undefined);
  });

  it('treats a missing or half-written runtime.json as no runtime', () => {
    const dataDir = tempDir();
    assert.equal(locateRuntime({ dataDir, env: {} }), undefined);
    writeFileSync(runtimeInfoPath(dataDir), '{"url": "http://127.0.0.1:84');
    assert.equal(locateRuntime({ dataDir, env: {} }), undefined);
  });

  it('prefers KILN_URL with KILN_TOKEN over the data directory', () => {
    const dataDir = tempDir();
    writeInfo(dataDir, process.pid);
    assert.deepEqual(locateRuntime({ dataDir, env: { KILN_URL: 'http://gpu-box:8411', KILN_TOKEN: 'remote' } }),
      { url: 'http://gpu-box:8411', token: 'remote', source: 'env' });
  });

  it('refuses one of KILN_URL and KILN_TOKEN without the other', () => {
    const dataDir = tempDir();
    assert.throws(() => locateRuntime({ dataDir, env: { KILN_URL: 'http://gpu-box:8411' } }),
      (error: Error) => error instanceof RuntimeConfigError && /KILN_TOKEN is not/.test(error.message));
    assert.throws(() => locateRuntime({ dataDir, env: { KILN_TOKEN: 'x' } }),
      (error: Error) => error instanceof RuntimeConfigError && /KILN_URL is not/.test(error.message) && !error.message.includes(': x'));
  });
});

describe('resolveDataDir', () => {
  it('takes --data-dir over KILN_HOME', () => {
    assert.equal(resolveDataDir('relative/dir', { KILN_HOME: '/elsewhere' }), path.resolve('relative/dir'));
    assert.equal(resolveDataDir(undefined, { KILN_HOME: '/elsewhere' }), path.resolve('/elsewhere'));
  });
});

describe('ensureRuntime', () => {
  it('reports a runtime that exits while starting, with the end of its log', async () => {
    const dataDir = tempDir();
    const script = path.join(dataDir, 'crashing-runtime.js');
    writeFileSync(script, 'console.error("cannot bind 127.0.0.1:8411: address in use"); process.exit(4);');
    await assert.rejects(ensureRuntime({ runtimeScript: script, dataDir, timeoutMs: 10_000 }), (error: Error) =>
      error instanceof RuntimeStartError &&
      error.message.includes('exited with code 4 while starting') &&
      error.message.includes('  cannot bind 127.0.0.1:8411: address in use') &&
      error.logFile === path.join(dataDir, 'runtime.log'));
  });
});
