/**
 * Runners on Linux with bubblewrap. The host's file system is visible read-only; the runtime's
 * data directory (secrets key included) is hidden; /tmp is private; each volume is mounted,
 * writable, at the path the app declared; the files the app saves go to its own folder. The
 * runner gets its own process namespace, so /proc shows no other process (and no other
 * process's view of the file system). The root is a fresh tmpfs with the host's top-level
 * folders bound into it, so a mount point such as /models can be made without touching the host.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
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

/** Where libraries cache downloads in a runner, the home folder being read-only there. */
export const SANDBOX_CACHE = `${SANDBOX_TMP}/cache`;

/**
 * Whether bubblewrap can make `target` a mount point: a path whose top-level folder is new to
 * the host lives on the sandbox's own root; one inside an existing host folder must exist.
 */
export function mountPointPossible(target: string): boolean {
  const topLevel = target.split('/')[1]!;
  return `/${topLevel}` === SANDBOX_TMP || !existsSync(`/${topLevel}`) || existsSync(target);
}

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
    else args.push('--ro-bind', full, full);
  }
  return [...args, '--dev-bind', '/dev', '/dev', '--proc', '/proc', '--ro-bind', '/sys', '/sys', '--tmpfs', SANDBOX_TMP];
}

export function sandboxed(launch: RunnerLaunch, plan: SandboxPlan): RunnerLaunch {
  const args = ['--die-with-parent', '--unshare-pid', '--new-session', ...rootArgs()];
  for (const folder of plan.hide) args.push('--tmpfs', folder);
  for (const folder of plan.readOnly) args.push('--ro-bind', folder, folder);
  for (const folder of plan.writable) args.push('--bind', folder, folder);
  for (const mount of plan.mounts) args.push('--bind', mount.source, mount.target);
  args.push('--chdir', launch.cwd, '--', launch.command, ...launch.args);
  // Caches go to the private /tmp unless the app says where: the home folder is read-only here.
  return { ...launch, command: 'bwrap', args, env: { XDG_CACHE_HOME: SANDBOX_CACHE, ...launch.env }, exitCodeCarriesSignal: true };
}

/**
 * The host's pid of a process that a sandbox's process namespace knows as `innerPid`: looked for
 * among the descendants of `root` (a host pid) at most `depth` generations down, by the namespace
 * pids Linux lists for each. null when it cannot be told (the process is gone, or the kernel does
 * not list children).
 */
export function hostPidOf(root: number | null, innerPid: number, depth: number): number | null {
  let generation = root === null ? [] : [root];
  for (let level = 0; level < depth && generation.length > 0; level++) {
    const next: number[] = [];
    for (const pid of generation) {
      for (const child of readProc(`/proc/${pid}/task/${pid}/children`)?.trim().split(/\s+/).filter(Boolean).map(Number) ?? []) {
        const nsPids = readProc(`/proc/${child}/status`)?.match(/^NSpid:\s*(.*)$/m)?.[1]?.trim().split(/\s+/).map(Number);
        if (nsPids && nsPids.length > 1 && nsPids.at(-1) === innerPid) return child;
        next.push(child);
      }
    }
    generation = next;
  }
  return null;
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
