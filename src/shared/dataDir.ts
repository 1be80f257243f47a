/**
 * Where the runtime keeps its state, and where the CLI and the extension find it: KILN_HOME
 * when set (as DOCKER_HOST names docker's daemon), else the platform's data directory.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RuntimeInfo } from './api';

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KILN_HOME) return path.resolve(env.KILN_HOME);
  const home = os.homedir();
  switch (process.platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'kiln');
    case 'win32':
      return path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'kiln');
    default:
      return path.join(env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'kiln');
  }
}

/** The file a running runtime writes its URL, token and pid to (mode 0600). */
export function runtimeInfoPath(dataDir: string): string {
  return path.join(dataDir, 'runtime.json');
}

/** runtime.json's content, or undefined when it is missing or not a runtime's (a half-written file reads as missing). */
export function readRuntimeInfo(dataDir: string): RuntimeInfo | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(runtimeInfoPath(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
  const info = parsed as Partial<RuntimeInfo> | null;
  if (!info || typeof info.url !== 'string' || typeof info.token !== 'string' || !Number.isInteger(info.pid)) return undefined;
  return info as RuntimeInfo;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else, so it is alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** runtime.json's content when the process it names is alive; a stale file reads as no runtime. */
export function liveRuntimeInfo(dataDir: string): RuntimeInfo | undefined {
  const info = readRuntimeInfo(dataDir);
  return info && isProcessAlive(info.pid) ? info : undefined;
}
