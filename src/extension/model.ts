/**
 * What the runtime serves, as the editor knows it: the apps with their runners and endpoints,
 * secrets (names only), volumes, and what today cost. Read whole when the connection opens, then
 * kept current from the runtime's events: an event names what changed and only that is read
 * again. The apps view, the status bar and the tester all read this one copy.
 */
import * as vscode from 'vscode';
import { KilnApiError, type KilnClient } from '../client';
import type { AppDetail, RuntimeEventRecord, SecretInfo, VolumeInfo } from '../shared/api';
import type { RuntimeConnection } from './connection';

/** Events that come in bursts (a deploy's runner, its app, its finish) are read once. */
const SETTLE_MS = 150;
/** Runner uptimes and costs move without events: read again this often while connected. */
const TICK_MS = 30_000;

export class RuntimeModel implements vscode.Disposable {
  private appsByName = new Map<string, AppDetail>();
  private secretList: SecretInfo[] = [];
  private volumeList: VolumeInfo[] = [];
  private todayUsd: number | null = null;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires after any part of the model changed. */
  readonly onDidChange = this.changed.event;
  private readonly staleApps = new Set<string>();
  private staleSecrets = false;
  private staleVolumes = false;
  private settle: NodeJS.Timeout | undefined;
  /** Runs only while connected: without a runtime there is nothing to read. */
  private tick: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** Counts whole refreshes, so a slow one that a newer one overtook does not overwrite it. */
  private generation = 0;

  constructor(private readonly connection: RuntimeConnection, private readonly output: vscode.LogOutputChannel) {
    this.disposables.push(
      connection.onDidConnect((client) => void this.readAll(client)),
      connection.onDidReceiveEvent((event) => this.noteEvent(event)),
      connection.onDidChangeState((state) => {
        if (state.kind === 'connected') {
          this.tick ??= setInterval(() => this.readRunnersAgain(), TICK_MS);
          return;
        }
        clearInterval(this.tick);
        this.tick = undefined;
        this.generation++;
        this.appsByName = new Map();
        this.secretList = [];
        this.volumeList = [];
        this.todayUsd = null;
        this.changed.fire();
      }),
    );
  }

  private readRunnersAgain(): void {
    this.appsByName.forEach((_app, name) => this.staleApps.add(name));
    this.flushSoon();
  }

  apps(): AppDetail[] {
    return [...this.appsByName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  app(name: string): AppDetail | undefined {
    return this.appsByName.get(name);
  }

  secrets(): SecretInfo[] {
    return this.secretList;
  }

  volumes(): VolumeInfo[] {
    return this.volumeList;
  }

  /** What every app cost since local midnight, deleted ones included; null until known. */
  costToday(): number | null {
    return this.todayUsd;
  }

  /** Reads everything again now (the view's Refresh). */
  async refresh(): Promise<void> {
    if (this.connection.state.kind === 'connected') await this.readAll(this.connection.state.client);
  }

  private async readAll(client: KilnClient): Promise<void> {
    const generation = ++this.generation;
    try {
      const [summaries, secrets, volumes, today] = await Promise.all([
        client.listApps(), client.listSecrets(), client.volumes(), this.readCostToday(client),
      ]);
      const details = await Promise.all(summaries.map((summary) => client.getApp(summary.name).catch(() => undefined)));
      if (generation !== this.generation) return;
      this.appsByName = new Map(details.filter((detail): detail is AppDetail => detail !== undefined).map((detail) => [detail.name, detail]));
      this.secretList = secrets;
      this.volumeList = volumes;
      this.todayUsd = today;
      this.changed.fire();
    } catch (error) {
      this.output.warn(`Could not read the runtime's apps: ${(error as Error).message}`);
    }
  }

  private noteEvent(event: RuntimeEventRecord): void {
    switch (event.type) {
      case 'secret.set':
      case 'secret.unset':
        this.staleSecrets = true;
        break;
      case 'deploy.started':
      case 'deploy.finished':
        if (event.app) this.staleApps.add(event.app);
        break;
      case 'app.deleted':
      case 'app.deployed':
        this.staleApps.add(event.app);
        this.staleVolumes = true;
        break;
      default:
        this.staleApps.add(event.app);
    }
    this.flushSoon();
  }

  private flushSoon(): void {
    clearTimeout(this.settle);
    this.settle = setTimeout(() => void this.flush(), SETTLE_MS);
  }

  private async flush(): Promise<void> {
    if (this.connection.state.kind !== 'connected') return;
    const client = this.connection.state.client;
    const generation = this.generation;
    const apps = [...this.staleApps];
    const secrets = this.staleSecrets;
    const volumes = this.staleVolumes;
    this.staleApps.clear();
    this.staleSecrets = false;
    this.staleVolumes = false;
    try {
      const [details, secretList, volumeList, today] = await Promise.all([
        Promise.all(apps.map((name) => client.getApp(name).catch((error: unknown) => {
          if (error instanceof KilnApiError && error.status === 404) return name;
          throw error;
        }))),
        secrets ? client.listSecrets() : undefined,
        volumes ? client.volumes() : undefined,
        apps.length ? this.readCostToday(client) : undefined,
      ]);
      if (generation !== this.generation) return;
      for (const detail of details) {
        if (typeof detail === 'string') this.appsByName.delete(detail);
        else this.appsByName.set(detail.name, detail);
      }
      if (secretList) this.secretList = secretList;
      if (volumeList) this.volumeList = volumeList;
      if (today !== undefined) this.todayUsd = today;
      this.changed.fire();
    } catch (error) {
      // The connection's own watch reports a runtime that went away; this is only a missed update.
      this.output.warn(`Could not read what changed on the runtime: ${(error as Error).message}`);
    }
  }

  private async readCostToday(client: KilnClient): Promise<number | null> {
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    try {
      const usage = await client.usage(midnight.toISOString());
      return usage.costSince.reduce((sum, entry) => sum + entry.usd, 0);
    } catch {
      // A runtime from before usage history: the status bar leaves the cost out.
      return null;
    }
  }

  dispose(): void {
    clearTimeout(this.settle);
    clearInterval(this.tick);
    this.changed.dispose();
    this.disposables.forEach((disposable) => disposable.dispose());
  }
}
