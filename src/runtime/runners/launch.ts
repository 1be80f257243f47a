/**
 * How a worker process is started: interpreter, harness, environment variables (the app's env,
 * its secrets, its GPUs), and on Linux the bubblewrap sandbox with its volumes mounted. A
 * runner is forked from its revision's template (see template.ts), or started afresh.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../../appconfig';
import type { StartMode } from '../../shared/api';
import type { RevisionRecord } from '../deploys/store';
import type { LogStore } from '../observability/logs';
import type { SecretStore } from '../state/secrets';
import type { VolumeStore } from '../state/volumes';
import type { Placement } from './gpu';
import { Runner, type RunnerBackend, type RunnerLaunch, type RunnerProcess, RunnerStartError } from './runner';
import { mountPointPossible, SANDBOX_TMP, sandboxed } from './sandbox';
import { templateId, TemplateProcess } from './template';

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
  /** Where templates' sockets go (a short path: a socket's path is limited to about 100 bytes). */
  socketDir: string;
  /** The nesting a request's input may have, which the worker enforces too. */
  maxJsonDepth: number;
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

  private workerArgs(mode: 'serve' | 'template', appFile: string, className: string): string[] {
    return ['-u', '-X', 'utf8', path.join(this.options.harnessDir, 'kiln_worker.py'), '--mode', mode, '--app-file', appFile, '--class', className];
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
    // The templates' sockets folder may lie outside the data directory: hidden too, so a runner
    // sees its own template's socket alone.
    return sandboxed(launch, { hide: [this.options.dataDir, this.options.socketDir], readOnly: [...underTmp, ...readOnly], writable, mounts });
  }

  /** The environment every process of an app sees: the runtime's, the app's env, where files go. */
  private appEnv(app: string, config: AppConfig): Record<string, string> {
    const filesDir = this.filesDirOf(app);
    mkdirSync(filesDir, { recursive: true });
    return {
      ...this.baseEnv(),
      ...config.env,
      KILN_APP_NAME: app,
      KILN_FILES_DIR: filesDir,
      KILN_FILES_URL: `${this.options.publicUrl()}/files/${app}`,
    };
  }

  /** What makes a runner itself: its id, its GPUs, its thread count, and the app's secrets. */
  private runnerIdentity(config: AppConfig, id: string, placement: Extract<Placement, { kind: 'placed' }>, maxMultiplexing: number): Record<string, string> {
    const { values, missing } = this.options.secrets.reveal(config.secrets);
    if (missing.length) {
      throw new RunnerStartError(`Secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set. Set ${missing.length > 1 ? 'them' : 'it'} with: kiln secrets set ${missing.map((name) => `${name}=...`).join(' ')}`, 'secrets', null);
    }
    return {
      ...values,
      KILN_RUNNER_ID: id,
      KILN_MAX_MULTIPLEXING: String(maxMultiplexing),
      // CPU runners see no GPU at all, so torch.cuda.is_available() tells the truth.
      CUDA_VISIBLE_DEVICES: placement.gpus.join(','),
    };
  }

  /** A worker process of the app: serving (a runner started afresh) or a template. */
  private startWorker(spec: WorkerSpec, mode: 'serve' | 'template', env: Record<string, string>, extraReadOnly: string[] = []): RunnerProcess {
    const { mounts } = this.prepareMounts(spec.config);
    const launch = this.wrap({
      command: spec.python,
      args: this.workerArgs(mode, path.join(spec.sourceDir, spec.entry), spec.className),
      cwd: spec.sourceDir,
      env,
    }, [spec.sourceDir, ...(spec.envDir ? [spec.envDir] : []), ...extraReadOnly], [this.filesDirOf(spec.app)], mounts);
    return this.options.backend.start(launch);
  }

  /** Starts a runner as a fresh Python process (no template to fork it from). */
  spawnRunner(revision: RevisionRecord, sourceDir: string, id: string, placement: Extract<Placement, { kind: 'placed' }>, maxMultiplexing: number): Runner {
    const spec = templateSpecOf(revision, sourceDir);
    const env = { ...this.appEnv(revision.app, revision.config), ...this.runnerIdentity(revision.config, id, placement, maxMultiplexing) };
    return this.runner(revision, id, placement, maxMultiplexing, 'spawn', this.startWorker(spec, 'serve', env));
  }

  /** Forks a runner from the revision's template (`snapshot` when the template ran setup()). */
  forkRunner(template: TemplateProcess, mode: 'fork' | 'snapshot', revision: RevisionRecord, id: string, placement: Extract<Placement, { kind: 'placed' }>, maxMultiplexing: number): Runner {
    const env = this.runnerIdentity(revision.config, id, placement, maxMultiplexing);
    return this.runner(revision, id, placement, maxMultiplexing, mode, template.fork(id, env));
  }

  private runner(revision: RevisionRecord, id: string, placement: Extract<Placement, { kind: 'placed' }>, maxMultiplexing: number, start: StartMode, process: RunnerProcess): Runner {
    const runner = new Runner({
      id,
      revision: revision.revision,
      machineType: placement.machineType.name,
      gpus: placement.gpus,
      cpuFallback: placement.cpuFallback,
      maxMultiplexing,
      start,
    }, process);
    runner.onOutput((stream, text) => this.options.logs.append({ app: revision.app, revision: revision.revision, runner: id, stream, text }));
    if (placement.cpuFallback) {
      this.options.logs.append({
        app: revision.app, revision: revision.revision, runner: id, stream: 'system', level: 'warning',
        text: `No GPU for ${revision.config.machineTypes.join(' or ')} on this host: runner ${id} runs on CPU.`,
      });
    }
    return runner;
  }

  /**
   * Starts the template of a revision: it imports the app, answers with what it found (its
   * classes, configuration and endpoint schemas: the deploy's inspect step), and waits to fork
   * runners. Its own output (an import may print) goes to the logs, as the template's.
   */
  startTemplate(spec: TemplateSpec): Promise<TemplateProcess> {
    const id = templateId(spec.app, spec.revision);
    const socketPath = path.join(this.options.socketDir, `${randomBytes(8).toString('hex')}.sock`);
    // Imports and a snapshot's setup() see the app's secrets as they are now (each runner gets
    // them again, as they are then, when it is forked). The template never touches a GPU: each
    // runner is given its own after the fork.
    const env = { ...this.appEnv(spec.app, spec.config), ...this.options.secrets.reveal(spec.config.secrets).values, CUDA_VISIBLE_DEVICES: '' };
    return TemplateProcess.start({
      id,
      socketPath,
      sandboxed: this.options.sandbox,
      start: () => this.startWorker(spec, 'template', env, [socketPath]),
      onOutput: (stream, text) => this.options.logs.append({ app: spec.app, revision: spec.revision, runner: id, stream, text }),
    });
  }
}

/** What a revision's template (or a runner started afresh) needs to start. */
export type TemplateSpec = WorkerSpec & { revision: number };

/** The spec of a revision on record whose sources are in `sourceDir`. */
export function templateSpecOf(revision: RevisionRecord, sourceDir: string): TemplateSpec {
  return {
    app: revision.app, revision: revision.revision, python: revision.python, sourceDir, entry: revision.entry,
    className: revision.className, envDir: revision.envDir, config: revision.config,
  };
}

/** What a worker process of an app needs to start. */
export interface WorkerSpec {
  app: string;
  python: string;
  sourceDir: string;
  entry: string;
  className: string;
  envDir: string | null;
  config: AppConfig;
}
