/**
 * A real runtime for integration tests: `node dist/runtime.js` on a free port with its own data
 * directory, and the one typed client to talk to it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { collectSources, KilnClient } from '../../src/client';
export { isProcessAlive as processAlive } from '../../src/shared/dataDir';
import type { AppDetail, DeployEvent, DeployRequest, RuntimeInfo } from '../../src/shared/api';

export const ROOT = path.resolve(__dirname, '..', '..');
export const EXAMPLES = path.join(ROOT, 'examples');
export const FIXTURE_APPS = path.join(ROOT, 'test', 'fixtures', 'apps');
/** Debian's interpreter, which sees numpy, PIL and pydantic; `python3` first on PATH may not. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface TestRuntime {
  client: KilnClient;
  info: RuntimeInfo;
  dataDir: string;
  child: ChildProcess;
  /** Everything the runtime printed. */
  output(): string;
  /** SIGTERM: runners finish and tear down, runtime.json is removed. */
  stop(): Promise<void>;
  /** SIGKILL: nothing is cleaned up, as after a crash. */
  kill(): Promise<void>;
  /** Stops the runtime and deletes its data directory. */
  dispose(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  /** The runtime bundle to start; by default the checkout's dist/runtime.js. */
  script?: string;
  /** Leave the port to the runtime's default instead of asking for any free one. */
  defaultPort?: boolean;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export { until as waitFor };

export async function startRuntime(options: StartOptions = {}): Promise<TestRuntime> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'kiln-test-'));
  let output = '';
  const port = options.defaultPort ? [] : ['--port', '0'];
  const child = spawn(process.execPath, [options.script ?? path.join(ROOT, 'dist', 'runtime.js'), ...port, '--data-dir', dataDir, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const infoFile = path.join(dataDir, 'runtime.json');
  let info: RuntimeInfo;
  try {
    info = await until('the runtime to write runtime.json', () => {
      if (child.exitCode !== null) throw new Error(`the runtime exited (${child.exitCode}):\n${output}`);
      if (!existsSync(infoFile)) return undefined;
      const parsed = JSON.parse(readFileSync(infoFile, 'utf8')) as RuntimeInfo;
      return parsed.pid === child.pid ? parsed : undefined;
    });
  } catch (error) {
    // Nobody else holds the child or the folder yet: a runtime that never got ready leaves neither.
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const runtime: TestRuntime = {
    client: new KilnClient({ url: info.url, token: info.token }),
    info,
    dataDir,
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    dispose: async () => {
      await runtime.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return runtime;
}

export interface DeployResult {
  events: DeployEvent[];
  app?: AppDetail;
  failure?: Extract<DeployEvent, { type: 'failed' }>;
}

/** Deploys a file as the CLI does (its local modules included) and keeps every event. */
export async function deployFile(client: KilnClient, file: string, request: Partial<DeployRequest> = {}): Promise<DeployResult> {
  const sources = collectSources(file);
  const events: DeployEvent[] = [];
  try {
    const app = await client.deploy({ ...sources, ...request }, { onEvent: (event) => events.push(event) });
    return { events, app };
  } catch {
    const failure = events.find((event): event is Extract<DeployEvent, { type: 'failed' }> => event.type === 'failed');
    if (!failure) throw new Error(`deploy of ${file} failed without a failed event: ${JSON.stringify(events)}`);
    return { events, failure };
  }
}

/** Deploys a file and fails the test, with every event, unless the deploy succeeds. */
export async function deployOk(client: KilnClient, file: string, request: Partial<DeployRequest> = {}): Promise<AppDetail> {
  const result = await deployFile(client, file, request);
  if (!result.app) throw new Error(`deploy of ${file} failed: ${JSON.stringify(result.failure, null, 2)}`);
  return result.app;
}
