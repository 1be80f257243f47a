/**
 * One fal.App class of a Python file on disk, read and checked as the editor checks it: the
 * start of `kiln dev` and `kiln export`, which act on one App of a file named on the command line.
 */
import { readFileSync } from 'node:fs';
import { type CheckedApp, type CheckedFile, checkTree } from './check';
import { createPythonParser } from './parser';

/** The file cannot be read, has no such App, or has several and none was named. */
export class AppFileError extends Error {
  override readonly name = 'AppFileError';
}

/** The App named `className`, or the file's only one; its file's reading too, for locating problems. */
export async function checkAppFile(file: string, className?: string): Promise<{ checked: CheckedFile; chosen: CheckedApp }> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (error) {
    throw new AppFileError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const parser = await createPythonParser();
  const tree = parser.parse(source)!;
  try {
    const checked = checkTree(tree);
    const names = checked.apps.map(({ app }) => app.className);
    if (!names.length) throw new AppFileError(`${file} defines no fal.App class (a class deriving from fal.App, in a file that imports fal)`);
    const chosen = className ? checked.apps.filter(({ app }) => app.className === className) : checked.apps;
    if (!chosen.length) throw new AppFileError(`${file} has no fal.App class named ${className}; it defines ${names.join(', ')}`);
    if (chosen.length > 1) throw new AppFileError(`${file} defines ${names.join(', ')}; choose one as ${file}::${names[0]}`);
    return { checked, chosen: chosen[0]! };
  } finally {
    tree.delete();
    parser.delete();
  }
}
