/**
 * `kiln export`: an App file read statically (src/pyparse, validated by src/appconfig, as the
 * editor and a deploy do; the app's own Python packages need not be installed) and turned into a
 * directory that `docker build` and `kubectl apply` take as they are.
 *
 *   Containerfile, .dockerignore, README.md
 *   requirements.txt       when the app has requirements
 *   app/                   the app file and the local modules it imports (as a deploy uploads them)
 *   kiln/                  the worker harness and the fal compatibility package
 *   manifests/<target>.yaml
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { collectSources } from '../client/sources';
import { AppFileError, checkAppFile, locatedProblems } from '../pyparse';
import { checkManifests, type ManifestProblem } from './check';
import { CONTEXT, containerfile, DOCKERIGNORE } from './containerfile';
import { type Manifest, manifestsFor } from './manifests';
import { type ExportOptions, type ExportPlan, planExport } from './mapping';
import { exportReadme } from './readme';

export * from './check';
export * from './mapping';
export { CONTEXT } from './containerfile';

/** The app cannot be exported as it is; the message says what to change. */
export class ExportError extends Error {
  override readonly name = 'ExportError';
}

export interface ExportResult {
  plan: ExportPlan;
  manifests: Manifest[];
  /** Relative path ("/" separators) -> content, every file of the export directory. */
  files: Record<string, string>;
  /** The manifests' file, relative to the export directory. */
  manifestsFile: string;
}

/** Where the worker harness is: beside the bundle in dist/, or in the source tree. */
function harnessDir(): string {
  const bundled = path.join(__dirname, 'python');
  if (existsSync(path.join(bundled, 'kiln_harness'))) return bundled;
  return path.join(__dirname, '..', 'runtime', 'python');
}

function harnessFiles(folder: string, prefix = ''): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (entry.name === '__pycache__' || entry.name.startsWith('.')) continue;
    const full = path.join(folder, entry.name);
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(files, harnessFiles(full, relative));
    else if (entry.name.endsWith('.py')) files[relative] = readFileSync(full, 'utf8');
  }
  return files;
}

/** The App's validated configuration, read from its source alone. */
async function readConfig(file: string, className: string | undefined) {
  const { checked, chosen } = await checkAppFile(file, className).catch((error: unknown) => {
    throw error instanceof AppFileError ? new ExportError(error.message) : error;
  });
  const { validation } = chosen;
  if (!validation.config) {
    const errors = locatedProblems({ file: checked.file, apps: [chosen] })
      .filter(({ problem }) => problem.severity === 'error')
      .map(({ problem, range }) => `  ${file}:${range.start.line + 1}:${range.start.character + 1}: ${problem.code} ${problem.message}`);
    throw new ExportError(`${chosen.app.className} has configuration errors; fix them first:\n${errors.join('\n')}`);
  }
  return validation.config;
}

export function renderManifests(manifests: Manifest[]): string {
  return manifests.map((manifest) => stringify(manifest, { lineWidth: 0 })).join('---\n');
}

export async function exportApp(file: string, className: string | undefined, options: ExportOptions): Promise<ExportResult> {
  const config = await readConfig(file, className);
  const sources = collectSources(file);
  const plan = planExport(config, sources.entry, options);
  const manifests = manifestsFor(plan);
  const manifestsFile = `${plan.target}.yaml`;
  const files: Record<string, string> = {
    Containerfile: containerfile(plan),
    '.dockerignore': DOCKERIGNORE,
    'README.md': exportReadme(plan, manifestsFile),
    [`${CONTEXT.manifests}/${manifestsFile}`]: renderManifests(manifests),
  };
  if (plan.requirements.length) files[CONTEXT.requirements] = `${plan.requirements.join('\n')}\n`;
  for (const [relative, text] of Object.entries(sources.files)) files[`${CONTEXT.app}/${relative}`] = text;
  for (const [relative, text] of Object.entries(harnessFiles(harnessDir()))) files[`${CONTEXT.harness}/${relative}`] = text;
  return { plan, manifests, files, manifestsFile };
}

/** Problems of the export's manifests against the Kubernetes and Knative schemas. */
export function checkExport(result: ExportResult): Promise<ManifestProblem[]> {
  return checkManifests(result.files[`${CONTEXT.manifests}/${result.manifestsFile}`]!);
}

/**
 * Writes the export into `dir`. A folder that holds anything but an earlier export is refused;
 * an earlier export's app/, kiln/ and manifests/ are replaced whole, so no stale file stays.
 */
export function writeExport(dir: string, result: ExportResult): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new ExportError(`${dir} is a file; give -o a folder`);
    const entries = readdirSync(dir);
    if (entries.length && !entries.includes('Containerfile')) {
      throw new ExportError(`${dir} is not empty and holds no earlier export; give -o a new folder`);
    }
    for (const folder of [CONTEXT.app, CONTEXT.harness, CONTEXT.manifests]) rmSync(path.join(dir, folder), { recursive: true, force: true });
  }
  for (const [relative, text] of Object.entries(result.files)) {
    const target = path.join(dir, ...relative.split('/'));
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
}
