/**
 * Which runtime to talk to. KILN_URL with KILN_TOKEN (both, as DOCKER_HOST names docker's
 * daemon) points at any runtime, local or remote; otherwise the runtime.json that a running
 * runtime keeps in its data directory, trusted only while the process it names is alive.
 */
import path from 'node:path';
import { defaultDataDir, liveRuntimeInfo } from '../shared/dataDir';
export { isProcessAlive, liveRuntimeInfo, readRuntimeInfo } from '../shared/dataDir';
import type { RuntimeInfo } from '../shared/api';
import { RuntimeConfigError } from './errors';

export interface RuntimeLocation {
  url: string;
  token: string;
  /** Where the URL came from: the environment, or runtime.json in the data directory. */
  source: 'env' | 'runtime.json';
  /** The file's content, when it came from runtime.json. */
  info?: RuntimeInfo;
}

/** `--data-dir` when given, else KILN_HOME, else the platform's data directory. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ? path.resolve(flag) : defaultDataDir(env);
}

/**
 * The runtime to talk to, or undefined when none is running for `dataDir`. Throws
 * RuntimeConfigError when only one of KILN_URL and KILN_TOKEN is set.
 */
export function locateRuntime({ dataDir, env = process.env }: { dataDir: string; env?: NodeJS.ProcessEnv }): RuntimeLocation | undefined {
  const url = env.KILN_URL?.trim();
  const token = env.KILN_TOKEN?.trim();
  if (url && token) return { url, token, source: 'env' };
  if (url || token) {
    throw new RuntimeConfigError(`${url ? 'KILN_URL' : 'KILN_TOKEN'} is set but ${url ? 'KILN_TOKEN' : 'KILN_URL'} is not: ` +
      'set both to use a remote runtime, or neither to use the local one');
  }
  const info = liveRuntimeInfo(dataDir);
  return info && { url: info.url, token: info.token, source: 'runtime.json', info };
}
