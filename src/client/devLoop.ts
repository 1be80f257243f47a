/**
 * Hot reload, as `fal run` and `modal serve` do it: a dev copy of an app (its own name, so the
 * real one is untouched) deployed now and again each time the app's file, or a local module it
 * imports, changes. A save that breaks the app fails its deploy and the last good revision keeps
 * serving. Stopping deletes the dev copy. The editor's "Run with Hot Reload" and `kiln dev` both
 * run this loop; each brings its own way of noticing changes.
 */
import { watch as watchFolder } from 'node:fs';
import path from 'node:path';
import type { AppDetail, DeployError, DeployEvent, DeployRequest, DeployStep } from '../shared/api';
import type { KilnClient } from './client';
import { DeployCancelledError, DeployFailedError, KilnApiError } from './errors';
import { collectSources } from './sources';

/** Saves that come this close together (an editor writing a file, then its backup) deploy once. */
const SETTLE_MS = 40;

export type DevLoopEvent =
  /** A deploy began: at the start, or because `changed` (absolute path) changed. */
  | { type: 'deploying'; changed: string | null }
  | { type: 'progress'; event: DeployEvent }
  /** The new revision is live; `ms` from the change (or the start) to live. */
  | { type: 'live'; app: AppDetail; ms: number; changed: string | null }
  /** The deploy failed; `serving` is the revision still live, if any. */
  | { type: 'failed'; error: DeployError; step: DeployStep | null; serving: number | null; changed: string | null }
  | { type: 'stopped'; deleted: boolean };

export interface DevLoopOptions {
  /** The app's file. */
  entryFile: string;
  className?: string;
  /** The dev copy's name. */
  name: string;
  python?: string;
  /** A client for the runtime as it is now (it may have restarted between deploys). */
  connect(): Promise<KilnClient>;
  /**
   * A client for the runtime that runs now, never starting one: what stop() deletes the copy
   * through (a runtime started only to delete a copy would be no help to anyone).
   */
  existingClient(): Promise<KilnClient>;
  /**
   * Starts noticing changes to `files` (absolute paths), calling `onChange` with the one that
   * changed; the loop calls it again with the new list after each deploy (imports change).
   */
  watch(files: string[], onChange: (file: string) => void): { close(): void };
  onEvent(event: DevLoopEvent): void;
}

export function devCopyName(appName: string): string {
  return appName.endsWith('-dev') ? appName : `${appName}-dev`;
}

export class DevLoop {
  private watcher: { close(): void } | undefined;
  private watched = '';
  private deploying: AbortController | undefined;
  private pending: { changed: string | null; at: number } | undefined;
  private settle: NodeJS.Timeout | undefined;
  private serving: number | null = null;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly options: DevLoopOptions) {}

  get name(): string {
    return this.options.name;
  }

  /** The files the loop watches now: the entry and the local modules it imported at the last deploy. */
  files(): string[] {
    return this.watched ? this.watched.split('\n') : [path.resolve(this.options.entryFile)];
  }

  /** Deploys the dev copy and starts watching; resolves when that first deploy has ended. */
  async start(): Promise<void> {
    this.rewatch([path.resolve(this.options.entryFile)]);
    this.request(null, performance.now());
    await this.idle;
  }

  /** A change the caller noticed another way (an editor's save event): deploys as a watched change does. */
  changed(file: string): void {
    if (this.stopped) return;
    const at = performance.now();
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.request(file, at), SETTLE_MS);
  }

  /**
   * Stops watching, cancels a deploy under way, and deletes the dev copy from the runtime that
   * runs now; rejects when none does (the copy then comes back with the runtime).
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.settle);
    this.watcher?.close();
    this.pending = undefined;
    this.deploying?.abort();
    await this.idle;
    let deleted = false;
    try {
      const client = await this.options.existingClient();
      await client.deleteApp(this.options.name);
      deleted = true;
    } catch (error) {
      // Never deployed (its first deploy failed): nothing to delete.
      if (!(error instanceof KilnApiError && error.status === 404)) throw error;
    } finally {
      this.options.onEvent({ type: 'stopped', deleted });
    }
  }

  private request(changed: string | null, at: number): void {
    if (this.stopped) return;
    // Deploys run one at a time; changes during one make one more deploy after it, of the newest code.
    const first = this.pending?.at ?? at;
    this.pending = { changed, at: Math.min(first, at) };
    if (this.deploying) return;
    this.idle = this.drain();
  }

  private async drain(): Promise<void> {
    while (this.pending && !this.stopped) {
      const { changed, at } = this.pending;
      this.pending = undefined;
      await this.deployOnce(changed, at);
    }
  }

  private async deployOnce(changed: string | null, at: number): Promise<void> {
    const { onEvent } = this.options;
    const controller = new AbortController();
    this.deploying = controller;
    onEvent({ type: 'deploying', changed });
    try {
      const sources = collectSources(this.options.entryFile);
      const root = path.dirname(path.resolve(this.options.entryFile));
      this.rewatch(Object.keys(sources.files).map((file) => path.join(root, file)));
      const request: DeployRequest = { ...sources, name: this.options.name };
      if (this.options.className) request.className = this.options.className;
      if (this.options.python) request.python = this.options.python;
      const client = await this.options.connect();
      const app = await client.deploy(request, { signal: controller.signal, onEvent: (event) => onEvent({ type: 'progress', event }) });
      this.serving = app.revision;
      onEvent({ type: 'live', app, ms: performance.now() - at, changed });
    } catch (error) {
      if (error instanceof DeployCancelledError) return;
      const failure = error instanceof DeployFailedError ? error : undefined;
      onEvent({
        type: 'failed',
        error: failure?.error ?? { message: (error as Error).message },
        step: failure?.step ?? null,
        serving: this.serving,
        changed,
      });
    } finally {
      this.deploying = undefined;
    }
  }

  private rewatch(files: string[]): void {
    const key = [...files].sort().join('\n');
    if (key === this.watched || this.stopped) return;
    this.watcher?.close();
    this.watched = key;
    this.watcher = this.options.watch(files, (file) => this.changed(file));
  }
}

/**
 * DevLoopOptions.watch for a terminal: watches the files' folders rather than the files, since
 * many editors save by writing a new file and renaming it over the old one.
 */
export function watchFilesOnDisk(files: string[], onChange: (file: string) => void): { close(): void } {
  const wanted = new Set(files.map((file) => path.resolve(file)));
  const folders = [...new Set([...wanted].map((file) => path.dirname(file)))];
  const watchers = folders.map((folder) => {
    const watcher = watchFolder(folder, (_event, name) => {
      const file = name && path.join(folder, name.toString());
      if (file && wanted.has(file)) onChange(file);
    });
    // The folder went away (or can no longer be watched): that is a change to its files, whose
    // deploy then says what is missing, rather than an 'error' event that ends the process.
    watcher.on('error', () => {
      watcher.close();
      const lost = [...wanted].find((file) => path.dirname(file) === folder);
      if (lost) onChange(lost);
    });
    return watcher;
  });
  return { close: () => watchers.forEach((watcher) => watcher.close()) };
}
