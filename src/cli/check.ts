/**
 * `kiln check FILE...`: the editor's diagnostics on the command line, for CI. Human output is
 * `path:line:col: severity code message` (what editors' problem matchers parse); --json gives
 * 1-based positions. Exit 1 when any error is found, 2 when a file cannot be read.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { checkTree, createPythonParser, locatedProblems } from '../pyparse';

export interface CheckResult {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: 'error' | 'warning' | 'information';
  code: string;
  message: string;
}

/** Folders that hold other people's code, never the user's apps. */
const SKIPPED_FOLDERS = new Set(['.git', 'node_modules', '__pycache__', '.venv', 'venv', '.tox', 'site-packages']);

function pythonFilesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return SKIPPED_FOLDERS.has(entry.name) ? [] : pythonFilesUnder(full);
    return entry.isFile() && entry.name.endsWith('.py') ? [full] : [];
  });
}

export async function checkFiles(inputs: string[]): Promise<{ results: CheckResult[]; unreadable: string[] }> {
  const parser = await createPythonParser();
  const results: CheckResult[] = [];
  const unreadable: string[] = [];
  for (const input of inputs) {
    let files: string[];
    let texts: string[];
    try {
      files = statSync(input).isDirectory() ? pythonFilesUnder(input) : [input];
      texts = files.map((file) => readFileSync(file, 'utf8'));
    } catch (error) {
      unreadable.push(`${input}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      continue;
    }
    files.forEach((file, index) => {
      const tree = parser.parse(texts[index]!)!;
      for (const { problem, range } of locatedProblems(checkTree(tree))) {
        results.push({
          file,
          line: range.start.line + 1,
          column: range.start.character + 1,
          endLine: range.end.line + 1,
          endColumn: range.end.character + 1,
          severity: problem.severity,
          code: problem.code,
          message: problem.message,
        });
      }
      tree.delete();
    });
  }
  return { results, unreadable };
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('report configuration problems in fal.App files, as the editor does (for CI)')
    .argument('<files...>', 'Python files, or folders to search for them')
    .option('--json', 'print a JSON array of problems with 1-based positions')
    .action(async (inputs: string[], options: { json?: boolean }) => {
      const { results, unreadable } = await checkFiles(inputs);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      } else {
        for (const r of results) process.stdout.write(`${r.file}:${r.line}:${r.column}: ${r.severity} ${r.code} ${r.message}\n`);
      }
      for (const message of unreadable) process.stderr.write(`kiln check: cannot read ${message}\n`);
      if (unreadable.length) process.exitCode = 2;
      else if (results.some((r) => r.severity === 'error')) process.exitCode = 1;
    });
}
