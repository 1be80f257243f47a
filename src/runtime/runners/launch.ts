/**
 * How a worker process is started: interpreter, harness, environment variables (the app's env,
 * its secrets, its GPUs), and on Linux the bubblewrap sandbox with its volumes mounted.
 */
import { existsSync, lstatSync, mkdirSync, readlinkSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../../appconfig';
import type { RevisionRecord } from '../deploys/store';
import type { LogStore } from '../observability/logs';
import type { SecretStore } from '../state/secrets';
import type { VolumeStore } from '../state/volumes';
import type { Placement } from './gpu';
import { exitDescription, Runner, type RunnerBackend, type RunnerLaunch, RunnerStartError } from './runner';
import { mountPointPossible, SANDBOX_TMP, sandboxed } from './sandbox';
import type { InspectedApp, SourceError, WorkerMessage } from './workerProtocol';

export interface LauncherOptions {
  backend: RunnerBackend;
  /** Run workers inside bubblewrap. */
  sandbox: boolean;
  dataDir: string;
  /** The folder holding kiln_worker.py and the fal package. */
  harnessDir: string;
  filesDir: string;
  secrets: SecretStore;
  volumes: VolumeStore;
  logs: LogStore;
  /** The runtime's base URL, for the file URLs save_image returns. */
  publicUrl(): string;
  /** The nesting a request's input may have, which the worker enforces too. */
  maxJsonDepth: number;
}

export class InspectError extends Error {
  constructor(message: string, readonly source: SourceError | null, readonly phase: string) {
    super(message);
  }
}

/** Variables of the runtime's own that a worker must not inherit. */
const PRIVATE_ENV = /^KILN_(TOKEN|URL|HOME)$/;

export class RunnerLauncher {
  constructor(private readonly options: LauncherOptions) {}

  private baseEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !PRIVATE_ENV.test(key) && key !== 'PYTHONPATH' && key !== 'ELECTRON_RUN_AS_NODE') env[key] = value;
    }
    env.PYTHONPATH = this.options.harnessDir;
    env.PYTHONUNBUFFERED = '1';
    env.PYTHONDONTWRITEBYTECODE = '1';
    env.KILN_MAX_JSON_DEPTH = String(this.options.maxJsonDepth);
    return env;
  }

  filesDirOf(app: string): string {
    return path.join(this.options.filesDir, app);
  }

  private workerArgs(mode: 'serve' | 'inspect', appFile: string, className?: string): string[] {
    return ['-u', '-X', 'utf8', path.join(this.options.harnessDir, 'kiln_worker.py'), '--mode', mode, '--app-file', appFile,
      ...(className ? ['--class', className] : [])];
  }

  /** Volume mounts for the sandbox; without one, a symlink at the mount path when that can be made. */
  prepareMounts(config: AppConfig): { mounts: { source: string; target: string }[]; warnings: string[] } {
    const mounts = config.volumes.map((volume) => ({ source: this.options.volumes.ensure(volume.volume), target: volume.mountPath }));
    if (this.options.sandbox) {
      const impossible = mounts.find((mount) => !mountPointPossible(mount.target));
      if (impossible) {
        throw new RunnerStartError(`Volume mount ${impossible.target} lies inside a folder that exists on this host, which runners see read-only, and ${impossible.target} itself does not exist. Mount the volume at a new top-level path such as /models, or create ${impossible.target} on the host.`, 'volumes', null);
      }
      return { mounts, warnings: [] };
    }
    const warnings: string[] = [];
    for (const mount of mounts) {
      const stat = lstatSync(mount.target, { throwIfNoEntry: false });
      if (stat?.isSymbolicLink() && readlinkSync(mount.target) === mount.source) continue;
      if (stat) {
        throw new RunnerStartError(`Volume mount ${mount.target} exists on this host and runners are not sandboxed here, so the volume cannot be mounted there. Install bubblewrap (Linux) or choose a mount path that does not exist yet.`, 'volumes', null);
      }
      try {
        mkdirSync(path.dirname(mount.target), { recursive: true });
        symlinkSync(mount.source, mount.target, 'dir');
        warnings.push(`No sandbox on this host: ${mount.target} is a link to ${mount.source}.`);
      } catch (error) {
        throw new RunnerStartError(`Cannot mount volume at ${mount.target} (${(error as Error).message}). Install bubblewrap (Linux) so runners get private mounts, or choose a path this user can create.`, 'volumes', null);
      }
    }
    return { mounts: [], warnings };
  }

  private wrap(launch: RunnerLaunch, readOnly: string[], writable: string[], mounts: { source: string; target: string }[]): RunnerLaunch {
    if (!this.options.sandbox) return launch;
    // The sandbox's /tmp is private: whatever the worker runs from under the host's /tmp (the
    // harness of a checkout there, an interpreter's prefix) is bound back in, read-only.
    const underTmp = [this.options.harnessDir, path.dirname(path.dirname(launch.command))]
      .filter((folder) => folder.startsWith(`${SANDBOX_TMP}/`));
    return sandboxed(launch, { hide: [this.options.dataDir], readOnly: [...underTmp, ...readOnly], writable, mounts });
  }

  /** Starts a serving worker for a revision; the pool watches it from here. */
  startRunner(revision: RevisionRecord, sourceDir: string, id: string, placement: Extract<Placement, { kind: 'placed' }>, maxMultiplexing: number): Runner {
    const { config } = revision;
    const { values, missing } = this.options.secrets.reveal(config.secrets);
    if (missing.length) {
      throw new RunnerStartError(`Secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set. Set ${missing.length > 1 ? 'them' : 'it'} with: kiln secrets set ${missing.map((name) => `${name}=...`).join(' ')}`, 'secrets', null);
    }
    const filesDir = this.filesDirOf(revision.app);
    mkdirSync(filesDir, { recursive: true });
    const env = {
      ...this.baseEnv(),
      ...config.env,
      ...values,
      KILN_APP_NAME: revision.app,
      KILN_RUNNER_ID: id,
      KILN_MAX_MULTIPLEXING: String(maxMultiplexing),
      KILN_FILES_DIR: filesDir,
      KILN_FILES_URL: `${this.options.publicUrl()}/files/${revision.app}`,
      // CPU runners see no GPU at all, so torch.cuda.is_available() tells the truth.
      CUDA_VISIBLE_DEVICES: placement.gpus.join(','),
    };
    const { mounts } = this.prepareMounts(config);
    const launch = this.wrap({
      command: revision.python,
      args: this.workerArgs('serve', path.join(sourceDir, revision.entry), revision.className),
      cwd: sourceDir,
      env,
    }, [sourceDir, ...(revision.envDir ? [revision.envDir] : [])], [filesDir], mounts);
    const runner = new Runner({
      id,
      revision: revision.revision,
      machineType: placement.machineType.name,
      gpus: placement.gpus,
      cpuFallback: placement.cpuFallback,
      maxMultiplexing,
    }, this.options.backend.start(launch));
    runner.onOutput((stream, text) => this.options.logs.append({ app: revision.app, revision: revision.revision, runner: id, stream, text }));
    if (placement.cpuFallback) {
      this.options.logs.append({
        app: revision.app, revision: revision.revision, runner: id, stream: 'system', level: 'warning',
        text: `No GPU for ${config.machineTypes.join(' or ')} on this host: runner ${id} runs on CPU.`,
      });
    }
    return runner;
  }

  /**
   * Imports the app in a worker without running setup, and reports its classes, configuration
   * and endpoint schemas. Output lines go to `onLine` (an import may print).
   */
  inspect(python: string, sourceDir: string, entry: string, envDir: string | null, onLine: (line: string) => void, signal?: AbortSignal): Promise<InspectedApp[]> {
    const launch = this.wrap({
      command: python,
      args: this.workerArgs('inspect', path.join(sourceDir, entry)),
      cwd: sourceDir,
      env: this.baseEnv(),
    }, [sourceDir, ...(envDir ? [envDir] : [])], [], []);
    const worker = this.options.backend.start(launch);
    const abort = () => worker.kill('SIGKILL');
    signal?.addEventListener('abort', abort, { once: true });
    return new Promise<InspectedApp[]>((resolve, reject) => {
      let answer: WorkerMessage | undefined;
      worker.onMessage((message) => { answer ??= message; });
      worker.onOutput((_stream, line) => onLine(line));
      worker.onExit((code, signalName) => {
        signal?.removeEventListener('abort', abort);
        if (answer?.type === 'inspect') resolve(answer.apps);
        else if (answer?.type === 'failed') reject(new InspectError(answer.error.message, answer.error, answer.phase));
        else if (signal?.aborted) reject(new InspectError('The deploy was cancelled.', null, 'cancelled'));
        else reject(new InspectError(`The inspect worker ${exitDescription(code, signalName)} without an answer.${existsSync(python) ? '' : ` Is ${python} a Python interpreter?`}`, null, 'exit'));
      });
    });
  }
}
