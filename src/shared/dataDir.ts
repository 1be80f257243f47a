/**
 * Where the runtime keeps its state, and where the CLI and the extension find it: KILN_HOME
 * when set (as DOCKER_HOST names docker's daemon), else the platform's data directory.
 */
import os from 'node:os';
import path from 'node:path';

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
