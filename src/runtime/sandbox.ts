/**
 * Runners on Linux with bubblewrap: the host's file system as it is, except that the runtime's
 * data directory (secrets key included) is hidden, /tmp is private, and each volume is mounted
 * at the path the app declared. The root is a fresh tmpfs with the host's top-level folders
 * bound into it, so a mount point such as /models can be made without touching the host.
 */
import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import type { RunnerLaunch } from './runner';

export interface SandboxPlan {
  /** Folders to hide behind an empty tmpfs (the runtime's data directory). */
  hide: string[];
  /** Paths inside hidden folders the runner still reads (its source, its Python environment). */
  readOnly: string[];
  /** Paths inside hidden folders the runner writes (where save_image puts files). */
  writable: string[];
  /** Volumes: host folder -> the path the app sees. */
  mounts: { source: string; target: string }[];
}

/** Kernel views and scratch space get their own mounts instead of the host's. */
const SPECIAL = new Set(['proc', 'dev', 'sys', 'tmp']);

/** The runner's private scratch folder, a fresh tmpfs over the host's. */
export const SANDBOX_TMP = '/tmp';

export function bubblewrapUsable(): Promise<boolean> {
  return new Promise((resolve) => {
    if (process.platform !== 'linux') {
      resolve(false);
      return;
    }
    execFile('bwrap', ['--dev-bind', '/', '/', '--tmpfs', '/tmp', 'true'], { timeout: 10_000 }, (error) => resolve(!error));
  });
}

function rootArgs(): string[] {
  const args = ['--tmpfs', '/'];
  for (const name of readdirSync('/')) {
    const full = `/${name}`;
    if (SPECIAL.has(name)) continue;
    const stat = lstatSync(full, { throwIfNoEntry: false });
    if (!stat) continue;
    if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(full), full);
    else if (stat.isDirectory()) args.push('--bind', full, full);
    else args.push('--ro-bind', full, full);
  }
  return [...args, '--dev-bind', '/dev', '/dev', '--proc', '/proc', '--ro-bind', '/sys', '/sys', '--tmpfs', SANDBOX_TMP];
}

export function sandboxed(launch: RunnerLaunch, plan: SandboxPlan): RunnerLaunch {
  const args = ['--die-with-parent', ...rootArgs()];
  for (const folder of plan.hide) args.push('--tmpfs', folder);
  for (const folder of plan.readOnly) args.push('--ro-bind', folder, folder);
  for (const folder of plan.writable) args.push('--bind', folder, folder);
  for (const mount of plan.mounts) args.push('--bind', mount.source, mount.target);
  args.push('--chdir', launch.cwd, '--', launch.command, ...launch.args);
  return { ...launch, command: 'bwrap', args };
}
