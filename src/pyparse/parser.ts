/**
 * The Python grammar, loaded once per process. web-tree-sitter is WebAssembly, so it runs under
 * VS Code's own Node with no native addon; its offsets are UTF-16 code units, like LSP's.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Language, Parser, type Tree } from 'web-tree-sitter';

/** Where the two wasm files live: beside the bundle in dist/, or in node_modules when run from source. */
function wasmPath(file: string, packageDir: string): string {
  const bundled = path.join(__dirname, file);
  if (existsSync(bundled)) return bundled;
  return path.join(__dirname, '..', '..', 'node_modules', packageDir, file);
}

let language: Promise<Language> | undefined;

function loadLanguage(): Promise<Language> {
  language ??= (async () => {
    const runtimeWasm = wasmPath('web-tree-sitter.wasm', 'web-tree-sitter');
    await Parser.init({ locateFile: () => runtimeWasm });
    return Language.load(wasmPath('tree-sitter-python.wasm', 'tree-sitter-python'));
  })();
  return language;
}

export type { Tree };

/** A parser ready for Python source. One per consumer: a tree-sitter Parser is not re-entrant. */
export async function createPythonParser(): Promise<Parser> {
  const python = await loadLanguage();
  const parser = new Parser();
  parser.setLanguage(python);
  return parser;
}
