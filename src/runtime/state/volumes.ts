/** Volumes: a folder per name under the data directory, mounted into the runners that use it. */
import { mkdirSync, opendirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { VolumeInfo } from '../../shared/api';

/** Sizes are summed file by file; a huge volume is counted up to this many entries. */
const SIZE_WALK_LIMIT = 100_000;

function sizeOf(folder: string): number {
  let total = 0;
  let seen = 0;
  const stack = [folder];
  while (stack.length && seen < SIZE_WALK_LIMIT) {
    const current = stack.pop()!;
    // Entry by entry: an app may have put millions in one folder, and the walk stops at the limit.
    const dir = opendirSync(current);
    try {
      for (let entry = dir.readSync(); entry && seen < SIZE_WALK_LIMIT; entry = dir.readSync()) {
        seen++;
        const full = path.join(current, entry.name);
        if (entry.isDirectory()) stack.push(full);
        else if (entry.isFile()) total += statSync(full, { throwIfNoEntry: false })?.size ?? 0;
      }
    } finally {
      dir.closeSync();
    }
  }
  return total;
}

export class VolumeStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** The host folder of a volume, created on first use. */
  ensure(name: string): string {
    const folder = path.join(this.dir, name);
    mkdirSync(folder, { recursive: true });
    return folder;
  }

  list(usedBy: Map<string, string[]>): VolumeInfo[] {
    return readdirSync(this.dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => {
        const folder = path.join(this.dir, entry.name);
        return { name: entry.name, path: folder, sizeBytes: sizeOf(folder), apps: usedBy.get(entry.name) ?? [] };
      });
  }
}
