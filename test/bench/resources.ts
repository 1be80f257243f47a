/**
 * Every process and temporary folder the benchmark starts, so that neither a failure nor Ctrl-C
 * leaves one behind: groups take them from here and give them back when done; run.ts gives back
 * whatever is left, in reverse order, on the way out.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Held {
  readonly name: string;
  /** Gives it back: stops the process (SIGTERM, then SIGKILL) or deletes the folder. */
  release(): Promise<void>;
}

interface Entry extends Held {
  /** Synchronous last resort for process exit, when nothing can be awaited. */
  releaseNow(): void;
}

/** SIGTERM, then SIGKILL when it has not exited within `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export class Resources {
  private readonly entries: Entry[] = [];

  /** A new empty folder under the system's temp dir, deleted on release. */
  tempDir(prefix: string): Held & { path: string } {
    const folder = mkdtempSync(path.join(os.tmpdir(), prefix));
    const remove = () => rmSync(folder, { recursive: true, force: true });
    const entry = this.add({ name: folder, release: async () => remove(), releaseNow: remove });
    return Object.assign(entry, { path: folder });
  }

  /** A started child process, stopped on release. */
  process(name: string, child: ChildProcess, graceMs?: number): Held {
    return this.add({
      name: `${name} (pid ${child.pid})`,
      release: () => stopProcess(child, graceMs),
      releaseNow: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); },
    });
  }

  /** Something of this process's own (a server): it ends with the process anyway. */
  inProcess(name: string, release: () => Promise<void>): Held {
    return this.add({ name, release, releaseNow: () => undefined });
  }

  /** Gives back everything still held, the newest first; failures are reported, not thrown. */
  async releaseAll(): Promise<void> {
    while (this.entries.length > 0) {
      const entry = this.entries.at(-1)!;
      try {
        await entry.release();
      } catch (error) {
        process.stderr.write(`bench: could not clean up ${entry.name}: ${(error as Error).message}\n`);
      }
    }
  }

  /** For `process.on('exit')`: kills and deletes without waiting. */
  releaseAllNow(): void {
    for (const entry of this.entries.splice(0).reverse()) {
      try {
        entry.releaseNow();
      } catch {
        // Exiting anyway; nothing more can be done.
      }
    }
  }

  private add(entry: Entry): Entry {
    let released = false;
    const held: Entry = {
      name: entry.name,
      release: async () => {
        if (released) return;
        released = true;
        this.forget(held);
        await entry.release();
      },
      releaseNow: () => {
        if (released) return;
        released = true;
        this.forget(held);
        entry.releaseNow();
      },
    };
    this.entries.push(held);
    return held;
  }

  private forget(entry: Entry): void {
    const index = this.entries.indexOf(entry);
    if (index >= 0) this.entries.splice(index, 1);
  }
}
