/**
 * Which runtime a verb talks to: the global --data-dir (else KILN_HOME, else the platform's
 * folder) and KILN_URL/KILN_TOKEN, resolved the same way for every verb.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { KilnClient, locateRuntime, NoRuntimeError, resolveDataDir, type RuntimeLocation } from '../client';

/**
 * A --python as the runtime should get it: a path (it has a slash) made absolute, for the runtime
 * does not run in this folder; a bare name (python3) left for the runtime to find on its PATH.
 */
export function resolvePython(python: string | undefined): string | undefined {
  return python && /[\\/]/.test(python) ? path.resolve(python) : python;
}

export function dataDirOf(command: Command): string {
  return resolveDataDir(command.optsWithGlobals<{ dataDir?: string }>().dataDir);
}

export function locate(command: Command): RuntimeLocation | undefined {
  return locateRuntime({ dataDir: dataDirOf(command) });
}

/** A client for the runtime; NoRuntimeError (exit 3) when none is running. */
export function connect(command: Command): KilnClient {
  const location = locate(command);
  if (!location) throw new NoRuntimeError(dataDirOf(command));
  return new KilnClient(location);
}

/** The runtime's bundle, which ships beside the CLI's in dist/. */
export function runtimeScript(): string {
  const script = path.join(__dirname, 'runtime.js');
  if (!existsSync(script)) throw new Error(`the Kiln runtime is missing from this installation (${script}): reinstall Kiln`);
  return script;
}
