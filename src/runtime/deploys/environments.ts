/**
 * Python interpreters and the environments apps run in. An app without requirements runs on
 * its interpreter as is. One with requirements gets a virtual environment keyed by the
 * interpreter and the requirement list, built once and shared by every runner and later deploy
 * of the same list; system site-packages stay visible, so a GPU host's installed torch counts.
 * pip runs with the user's own configuration (index URLs, find-links, certificates).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../state/atomicFiles';

/** The oldest Python the worker harness runs on. */
export const MIN_PYTHON: [number, number] = [3, 9];

export interface PythonInfo {
  /** The interpreter as the user named it. */
  requested: string;
  /** sys.executable: the absolute path that runs. */
  executable: string;
  version: string;
}

export class PythonError extends Error {}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], onLine?: (line: string) => void, signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
    const output = { stdout: '', stderr: '' };
    // Each stream keeps its own unfinished line, so stdout and stderr never mix within a line.
    const partial = { stdout: '', stderr: '' };
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output[stream] += text;
      if (!onLine) return;
      const lines = (partial[stream] + text).split(/\r?\n/);
      partial[stream] = lines.pop()!;
      lines.filter((line) => line.trim()).forEach(onLine);
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    child.on('error', reject);
    child.on('close', (code) => {
      for (const rest of [partial.stdout, partial.stderr]) if (rest.trim()) onLine?.(rest);
      resolve({ code, ...output });
    });
  });
}

const PROBE = 'import json, sys; print(json.dumps({"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3]}))';

/**
 * Probes are remembered per interpreter while its file is unchanged: starting Python to ask its
 * version is a third of a small app's deploy time.
 */
const probes = new Map<string, { info: PythonInfo; mtimeMs: number }>();

export async function probePython(requested: string): Promise<PythonInfo> {
  const known = probes.get(requested);
  if (known && statSync(known.info.executable, { throwIfNoEntry: false })?.mtimeMs === known.mtimeMs) return known.info;
  const info = await probeOnce(requested);
  const stat = statSync(info.executable, { throwIfNoEntry: false });
  if (stat) probes.set(requested, { info, mtimeMs: stat.mtimeMs });
  return info;
}

async function probeOnce(requested: string): Promise<PythonInfo> {
  let result: RunResult;
  try {
    result = await run(requested, ['-c', PROBE]);
  } catch {
    throw new PythonError(`Python interpreter "${requested}" was not found. Pass --python with the path of a Python ${MIN_PYTHON.join('.')}+ interpreter.`);
  }
  if (result.code !== 0) {
    throw new PythonError(`"${requested}" did not run as Python (${result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`}). Pass --python with a Python ${MIN_PYTHON.join('.')}+ interpreter.`);
  }
  const info = JSON.parse(result.stdout) as { executable: string; version: string };
  const [major, minor] = info.version.split('.').map(Number) as [number, number];
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new PythonError(`"${requested}" is Python ${info.version}; Kiln's worker needs Python ${MIN_PYTHON.join('.')} or newer. Choose another interpreter with --python.`);
  }
  return { requested, executable: info.executable, version: info.version };
}

export interface PreparedEnvironment {
  /** The interpreter runners start. */
  python: string;
  /** The virtual environment, or null when the app needs none. */
  envDir: string | null;
  cached: boolean;
}

export class EnvironmentError extends Error {}

interface Build {
  result: Promise<PreparedEnvironment>;
  controller: AbortController;
  /** Deploys waiting for it; the build is stopped only when none is left. */
  waiters: number;
}

export class EnvironmentStore {
  /** One build per environment at a time; concurrent deploys of the same list share it. */
  private readonly building = new Map<string, Build>();
  /** The harness compiled for each interpreter, once. */
  private readonly compiled = new Map<string, Promise<void>>();

  constructor(private readonly dir: string, private readonly harnessDir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /**
   * The worker harness compiled to bytecode for an interpreter, once per interpreter: workers run
   * with PYTHONDONTWRITEBYTECODE (their view of the harness is read-only anyway), so without it
   * every template and fresh runner compiles the harness again, a third of a small app's start.
   * Where the harness folder is not writable, workers compile it as before.
   */
  compileHarness(python: PythonInfo): Promise<void> {
    let done = this.compiled.get(python.executable);
    if (!done) {
      done = run(python.executable, ['-m', 'compileall', '-q', this.harnessDir]).then(() => undefined, () => undefined);
      this.compiled.set(python.executable, done);
    }
    return done;
  }

  keyOf(python: PythonInfo, requirements: string[]): string {
    const hash = createHash('sha256').update([python.executable, python.version, ...[...requirements].sort()].join('\n'));
    return hash.digest('hex').slice(0, 16);
  }

  async prepare(python: PythonInfo, requirements: string[], onLine: (line: string) => void, signal?: AbortSignal): Promise<PreparedEnvironment> {
    if (requirements.length === 0) return { python: python.executable, envDir: null, cached: true };
    const key = this.keyOf(python, requirements);
    const envDir = path.join(this.dir, key);
    const interpreter = path.join(envDir, process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
    if (existsSync(path.join(envDir, 'kiln-env.json'))) return { python: interpreter, envDir, cached: true };
    let build = this.building.get(key);
    if (build) {
      onLine('waiting for another deploy building the same environment');
    } else {
      const controller = new AbortController();
      build = { controller, waiters: 0, result: this.build(python, requirements, envDir, interpreter, onLine, controller.signal).finally(() => this.building.delete(key)) };
      this.building.set(key, build);
    }
    const shared = build;
    shared.waiters++;
    // A cancelled deploy stops waiting at once; the build itself stops only when no deploy waits for it.
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (--shared.waiters === 0) shared.controller.abort();
        reject(new EnvironmentError('The deploy was cancelled while building its environment.'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      shared.result.then(resolve, reject).finally(() => signal?.removeEventListener('abort', onAbort));
    });
  }

  private async build(python: PythonInfo, requirements: string[], envDir: string, interpreter: string, onLine: (line: string) => void, signal?: AbortSignal): Promise<PreparedEnvironment> {
    rmSync(envDir, { recursive: true, force: true });
    try {
      // Base pip installing into a pip-less venv takes a fraction of a second; a venv with
      // its own pip takes seconds. Fall back to that when the base pip is missing or old.
      const basePip = await run(python.executable, ['-m', 'pip', '--version']).catch(() => undefined);
      const pipVersion = /^pip (\d+)\.(\d+)/.exec(basePip?.stdout ?? '');
      const useBasePip = basePip?.code === 0 && pipVersion !== null && (Number(pipVersion[1]) > 22 || (Number(pipVersion[1]) === 22 && Number(pipVersion[2]) >= 3));
      onLine(`creating a virtual environment with ${python.executable} (Python ${python.version})`);
      const venvArgs = ['-m', 'venv', '--system-site-packages', ...(useBasePip ? ['--without-pip'] : []), envDir];
      const venv = await run(python.executable, venvArgs, onLine, signal);
      if (venv.code !== 0) {
        throw new EnvironmentError(`Creating the virtual environment failed: ${lastLine(venv.stderr)}. On Debian or Ubuntu, install python3-venv.`);
      }
      onLine(`pip install ${requirements.join(' ')}`);
      const pipArgs = useBasePip
        ? [python.executable, ['-m', 'pip', '--python', interpreter, 'install', ...requirements]] as const
        : [interpreter, ['-m', 'pip', 'install', ...requirements]] as const;
      const pip = await run(pipArgs[0], [...pipArgs[1]], onLine, signal);
      if (pip.code !== 0) {
        throw new EnvironmentError(`Installing the requirements failed: ${lastLine(pip.stderr || pip.stdout)}. Check the requirement names and versions, and pip's index settings.`);
      }
      writeJsonAtomic(path.join(envDir, 'kiln-env.json'), { python: python.executable, version: python.version, requirements, builtAt: new Date().toISOString() });
      return { python: interpreter, envDir, cached: false };
    } catch (error) {
      rmSync(envDir, { recursive: true, force: true });
      if (signal?.aborted) throw new EnvironmentError('The deploy was cancelled while building its environment.');
      throw error;
    }
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((line) => line.trim() && !/^\s*(WARNING|\[notice\])/.test(line));
  return (lines.at(-1) ?? 'no output').trim();
}
