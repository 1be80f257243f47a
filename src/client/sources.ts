/**
 * What a deploy uploads: the entry file and the local modules it imports, transitively, from its
 * own folder (the folder the runtime puts on sys.path). A module is local when `name.py` or a
 * package folder `name/` with .py files sits in that folder; a package goes up whole, so imports
 * inside it (`from . import x`, `from .sub import y`) need no following.
 *
 * The scan is lexical, not an import system. Limits:
 * - only `import` and `from ... import` statements count (at any indentation, after `try:` and
 *   the like); `importlib.import_module(...)`, `__import__` and imports named by strings do not;
 * - modules outside the entry's folder, and folders added to sys.path at run time, are not taken;
 * - data files (JSON, weights) never go up: put those in a `fal.Volume`;
 * - an f-string that nests its own quote character (Python 3.12) can hide or invent an import,
 *   which at worst misses or adds one local module.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** What a deploy request accepts; weights and data belong in volumes, not in source uploads. */
export const MAX_SOURCE_BYTES = 5 * 1024 * 1024;

export interface CollectedSources {
  /** The entry file's name, relative to its folder. */
  entry: string;
  /** Relative path with "/" separators -> UTF-8 source, the entry first. */
  files: Record<string, string>;
}

/** The entry cannot be read, or the sources are too large to deploy. */
export class SourcesError extends Error {
  override readonly name = 'SourcesError';
}

export function collectSources(entryFile: string): CollectedSources {
  const root = path.dirname(path.resolve(entryFile));
  const entry = path.basename(entryFile);
  const files: Record<string, string> = {};
  let totalBytes = 0;
  const pending: string[] = [];

  const take = (relative: string) => {
    if (relative in files) return;
    const text = readSource(root, relative);
    totalBytes += Buffer.byteLength(text);
    if (totalBytes > MAX_SOURCE_BYTES) {
      throw new SourcesError(`the app's Python sources pass ${MAX_SOURCE_BYTES / 1024 / 1024} MB at ${relative}: ` +
        'keep model weights and data out of the modules it imports (a fal.Volume holds them)');
    }
    files[relative] = text;
    pending.push(relative);
  };

  take(entry);
  while (pending.length) {
    const file = pending.shift()!;
    for (const ref of importsOf(files[file]!)) {
      localFiles(root, file, ref).forEach(take);
    }
  }
  return { entry, files };
}

function readSource(root: string, relative: string): string {
  try {
    return readFileSync(path.join(root, relative), 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new SourcesError(`cannot read ${path.join(root, relative)}: ${reason}`);
  }
}

// ---- finding import statements --------------------------------------------------------------

/** One imported module: `level` leading dots (0 = absolute), its dotted path, and the names taken from it. */
export interface ImportRef {
  level: number;
  module: string;
  names: string[];
}

const IMPORT = /^(?:.*:\s*)?import\s+(.+)$/s;
const FROM_IMPORT = /^(?:.*:\s*)?from\s+(\.*)\s*([\w.]*)\s+import\s+(.+)$/s;

export function importsOf(source: string): ImportRef[] {
  const refs: ImportRef[] = [];
  for (const statement of statements(source)) {
    const from = FROM_IMPORT.exec(statement);
    if (from) {
      refs.push({ level: from[1]!.length, module: from[2]!, names: importedNames(from[3]!) });
      continue;
    }
    const plain = IMPORT.exec(statement);
    if (plain) for (const module of importedNames(plain[1]!)) refs.push({ level: 0, module, names: [] });
  }
  return refs;
}

/** "a.b as c, (d, e)" -> ["a.b", "d", "e"]. */
function importedNames(list: string): string[] {
  return list.replace(/[()]/g, ' ').split(',')
    .map((item) => item.trim().split(/\s+as\s+/)[0]!.trim())
    .filter((name) => /^[\w.]+$/.test(name) || name === '*');
}

/**
 * The file's statements with comments removed and string literals emptied, one per logical
 * line (bracketed and backslash-continued lines joined, `;` splitting), so an import written
 * inside a string or a comment is never mistaken for one.
 */
function statements(source: string): string[] {
  const result: string[] = [];
  let current = '';
  let depth = 0;
  const flush = () => {
    if (current.trim()) result.push(current.trim());
    current = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '#') {
      while (i + 1 < source.length && source[i + 1] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      i = endOfString(source, i);
      current += '""';
    } else if (c === '\\' && (source[i + 1] === '\n' || (source[i + 1] === '\r' && source[i + 2] === '\n'))) {
      i += source[i + 1] === '\r' ? 2 : 1;
      current += ' ';
    } else if (c === '\n') {
      if (depth > 0) current += ' ';
      else flush();
    } else if (c === ';' && depth === 0) {
      flush();
    } else {
      if ('([{'.includes(c)) depth++;
      else if (')]}'.includes(c)) depth = Math.max(0, depth - 1);
      current += c;
    }
  }
  flush();
  return result;
}

/** The index of the closing quote of the string opening at `start` (or of the last character). */
function endOfString(source: string, start: number): number {
  const quote = source[start]!;
  const triple = source.startsWith(quote.repeat(3), start);
  let i = start + (triple ? 3 : 1);
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (triple ? source.startsWith(quote.repeat(3), i) : c === quote) return i + (triple ? 2 : 0);
    // A single-quoted string cannot span lines: an unterminated one ends here.
    if (!triple && c === '\n') return i - 1;
    i++;
  }
  return source.length - 1;
}

// ---- resolving them to local files ----------------------------------------------------------

/** The files (relative to root) that the modules an import names resolve to, when they are local. */
function localFiles(root: string, importingFile: string, ref: ImportRef): string[] {
  if (ref.level === 0) return moduleFiles(root, '', ref.module.split('.')[0]!);
  // `from ..x import y`: one dot is the importing file's package, each further dot one folder up.
  let base = path.posix.dirname(importingFile);
  for (let up = 1; up < ref.level; up++) {
    if (base === '.') return [];
    base = path.posix.dirname(base);
  }
  const folder = base === '.' ? '' : base;
  if (ref.module) return moduleFiles(root, folder, ref.module.split('.')[0]!);
  return ref.names.filter((name) => name !== '*').flatMap((name) => moduleFiles(root, folder, name));
}

/** `folder/name.py`, and every .py file of a package folder `folder/name/`. */
function moduleFiles(root: string, folder: string, name: string): string[] {
  const relative = folder ? `${folder}/${name}` : name;
  const found: string[] = [];
  if (isFile(path.join(root, `${relative}.py`))) found.push(`${relative}.py`);
  if (isDirectory(path.join(root, relative))) found.push(...pythonFilesIn(root, relative));
  return found;
}

/** Folders a package never needs uploaded: bytecode caches and hidden tool folders. */
function skippedFolder(name: string): boolean {
  return name === '__pycache__' || name.startsWith('.');
}

function pythonFilesIn(root: string, relative: string): string[] {
  return readdirSync(path.join(root, relative), { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory()) return skippedFolder(entry.name) ? [] : pythonFilesIn(root, child);
      return entry.isFile() && entry.name.endsWith('.py') ? [child] : [];
    });
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(folder: string): boolean {
  try {
    return statSync(folder).isDirectory();
  } catch {
    return false;
  }
}
