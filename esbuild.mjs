// Bundles every entry point of the extension, language server, runtime and CLI into dist/, the
// webviews' pages into dist/webview/ (browser bundles, their CSS beside them), and copies the
// assets they load at run time (tree-sitter wasm, the Python worker side, the codicon font, the
// examples that "Kiln: New App…" offers as templates).
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
  // web-tree-sitter locates itself through import.meta.url, which a CommonJS bundle lacks.
  define: { KILN_VERSION: JSON.stringify(version), 'import.meta.url': 'importMetaUrl' },
  banner: { js: 'const importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
};

const entries = [
  { entryPoints: { extension: 'src/extension/main.ts' }, external: ['vscode'] },
  { entryPoints: { server: 'src/server/main.ts' } },
  { entryPoints: { runtime: 'src/runtime/main.ts' } },
  { entryPoints: { cli: 'src/cli/main.ts' }, banner: { js: `#!/usr/bin/env node\n${common.banner.js}` } },
  // Loaded by the CLI and the extension only when an export runs (src/export/load.ts).
  { entryPoints: { export: 'src/export/index.ts' } },
].map((entry) => ({ ...common, ...entry, outdir: 'dist' }));

// The webviews run in VS Code's browser side: no Node, and a policy that loads only these files.
const webviews = {
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'chrome120',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
  entryPoints: { tester: 'src/webview/tester/main.ts', dashboard: 'src/webview/dashboard/main.ts' },
  outdir: 'dist/webview',
};

/** The examples "Kiln: New App…" copies, by their file names. */
const TEMPLATES = ['hello.py', 'text_to_image.py', 'batch_processor.py', 'model_with_storage.py', 'secure_model.py'];

function copyAssets() {
  mkdirSync('dist', { recursive: true });
  // A production build writes no source maps; a development build's must not be packaged.
  if (production) {
    readdirSync('dist', { recursive: true }).filter((file) => file.endsWith('.map')).forEach((file) => rmSync(path.join('dist', file)));
  }
  cpSync(require.resolve('web-tree-sitter/web-tree-sitter.wasm'), 'dist/web-tree-sitter.wasm');
  cpSync(path.join(path.dirname(require.resolve('tree-sitter-python/package.json')), 'tree-sitter-python.wasm'),
    'dist/tree-sitter-python.wasm');
  // A runtime may be starting workers from dist/python right now: build the copy aside and swap
  // it in, so a worker never finds the folder half written.
  rmSync('dist/python.next', { recursive: true, force: true });
  cpSync('src/runtime/python', 'dist/python.next', { recursive: true, filter: (src) => !src.includes('__pycache__') });
  rmSync('dist/python.old', { recursive: true, force: true });
  if (existsSync('dist/python')) renameSync('dist/python', 'dist/python.old');
  renameSync('dist/python.next', 'dist/python');
  rmSync('dist/python.old', { recursive: true, force: true });
  mkdirSync('dist/webview', { recursive: true });
  const codicons = path.dirname(require.resolve('@vscode/codicons/dist/codicon.css'));
  for (const file of ['codicon.css', 'codicon.ttf']) cpSync(path.join(codicons, file), path.join('dist/webview', file));
  mkdirSync('dist/templates', { recursive: true });
  for (const file of TEMPLATES) cpSync(path.join('examples', file), path.join('dist/templates', file));
}

copyAssets();
const contexts = await Promise.all([...entries, webviews].map((options) => esbuild.context(options)));
if (watch) {
  await Promise.all(contexts.map((ctx) => ctx.watch()));
} else {
  await Promise.all(contexts.map((ctx) => ctx.rebuild()));
  await Promise.all(contexts.map((ctx) => ctx.dispose()));
}
