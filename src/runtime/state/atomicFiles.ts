/** Writes that survive a kill at any moment: a reader sees the old file or the new one, whole. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

export function writeFileAtomic(file: string, contents: string, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', mode);
  try {
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}

export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, mode);
}
