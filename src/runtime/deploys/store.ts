/**
 * What survives a restart: each app's record (current revision, scale overrides, cost so far)
 * and every revision (its source and what inspection found). Each is one JSON file written
 * atomically, so a kill at any moment leaves the old state or the new one.
 *
 *   apps/<name>/app.json
 *   apps/<name>/revisions/<n>/revision.json
 *   apps/<name>/revisions/<n>/src/...        the uploaded source
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../../appconfig';
import type { ScaleSettings } from '../../shared/api';
import type { InspectedEndpoint } from '../runners/workerProtocol';
import { writeJsonAtomic } from '../state/atomicFiles';

export interface AppRecord {
  name: string;
  /** The revision serving traffic. */
  revision: number;
  /** The highest revision number handed out, failed deploys included. */
  lastRevision: number;
  createdAt: string;
  updatedAt: string;
  scaleOverrides: Partial<ScaleSettings>;
  /** Cost of runners that have stopped; live runners are added when shown. */
  costUsd: number;
}

export interface RevisionRecord {
  app: string;
  revision: number;
  className: string;
  entry: string;
  /** The interpreter runners start (the environment's, when the app has requirements). */
  python: string;
  pythonVersion: string;
  envDir: string | null;
  config: AppConfig;
  endpoints: InspectedEndpoint[];
  createdAt: string;
}

export class StateStore {
  readonly appsDir: string;

  constructor(dataDir: string) {
    this.appsDir = path.join(dataDir, 'apps');
    mkdirSync(this.appsDir, { recursive: true });
  }

  private appFile(name: string): string {
    return path.join(this.appsDir, name, 'app.json');
  }

  revisionDir(name: string, revision: number): string {
    return path.join(this.appsDir, name, 'revisions', String(revision));
  }

  sourceDir(name: string, revision: number): string {
    return path.join(this.revisionDir(name, revision), 'src');
  }

  loadApps(): AppRecord[] {
    return readdirSync(this.appsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(this.appFile(entry.name)))
      .map((entry) => JSON.parse(readFileSync(this.appFile(entry.name), 'utf8')) as AppRecord);
  }

  loadApp(name: string): AppRecord | undefined {
    const file = this.appFile(name);
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) as AppRecord : undefined;
  }

  saveApp(record: AppRecord): void {
    writeJsonAtomic(this.appFile(record.name), record);
  }

  /** The next revision number for an app, reserved in the record so numbers are never reused. */
  reserveRevision(name: string): number {
    const record = this.loadApp(name);
    const next = (record?.lastRevision ?? this.highestRevisionOnDisk(name)) + 1;
    if (record) this.saveApp({ ...record, lastRevision: next });
    return next;
  }

  private highestRevisionOnDisk(name: string): number {
    const folder = path.join(this.appsDir, name, 'revisions');
    if (!existsSync(folder)) return 0;
    return Math.max(0, ...readdirSync(folder).map(Number).filter(Number.isInteger));
  }

  loadRevision(name: string, revision: number): RevisionRecord {
    return JSON.parse(readFileSync(path.join(this.revisionDir(name, revision), 'revision.json'), 'utf8')) as RevisionRecord;
  }

  saveRevision(record: RevisionRecord): void {
    writeJsonAtomic(path.join(this.revisionDir(record.app, record.revision), 'revision.json'), record);
  }

  /** Removes a revision that never went live. */
  discardRevision(name: string, revision: number): void {
    rmSync(this.revisionDir(name, revision), { recursive: true, force: true });
    const remaining = path.join(this.appsDir, name);
    if (!existsSync(this.appFile(name)) && existsSync(remaining)) {
      const revisions = path.join(remaining, 'revisions');
      if (!existsSync(revisions) || readdirSync(revisions).length === 0) rmSync(remaining, { recursive: true, force: true });
    }
  }

  deleteApp(name: string): void {
    rmSync(path.join(this.appsDir, name), { recursive: true, force: true });
  }
}
