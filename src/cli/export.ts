/**
 * `kiln export FILE[::Class] --target knative|kubernetes`: the app as a container build context
 * and manifests (src/export). Warnings say what did not map; --check validates the manifests
 * against the Kubernetes and Knative schemas offline and fails (exit 1) when they are not valid.
 */
import path from 'node:path';
import { type Command, Option } from 'commander';
import { loadExporter } from '../export/load';
import { EXPORT_TARGETS, type ExportTarget } from '../export/mapping';
import { splitTarget } from './deploy';
import { EXIT, UsageError } from './failures';
import { printJson, styleFor } from './format';

interface ExportCommandOptions {
  target: ExportTarget;
  image?: string;
  namespace?: string;
  output?: string;
  baseImage?: string;
  check?: boolean;
  json?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a container build and Kubernetes or Knative manifests for an app')
    .argument('<file>', 'the app file, as FILE or FILE::Class')
    .addOption(new Option('--target <target>', 'what the manifests are for').choices(EXPORT_TARGETS).makeOptionMandatory())
    .option('--image <ref>', 'the image the manifests run (default: NAME:latest)')
    .option('--namespace <ns>', 'the namespace of every object (default: kubectl\'s current one)')
    .option('-o, --output <dir>', 'the folder to write (default: ./NAME-TARGET)')
    .option('--base-image <ref>', 'the image to build on, with python3 and pip (default: CUDA runtime for GPU types, python:3.11-slim for CPU)')
    .option('--check', 'validate the manifests against the Kubernetes and Knative schemas; exit 1 if they are not valid')
    .option('--json', 'print what was written, the warnings and the check as JSON')
    .action(async (target: string, options: ExportCommandOptions) => {
      const { file, className } = splitTarget(target);
      const { checkExport, ExportError, exportApp, writeExport } = loadExporter();
      let result;
      try {
        result = await exportApp(file, className, {
          target: options.target,
          ...(options.image ? { image: options.image } : {}),
          ...(options.namespace ? { namespace: options.namespace } : {}),
          ...(options.baseImage ? { baseImage: options.baseImage } : {}),
        });
      } catch (error) {
        if (error instanceof ExportError) throw new UsageError(error.message);
        throw error;
      }
      const dir = path.resolve(options.output ?? `${result.plan.name}-${options.target}`);
      writeExport(dir, result);
      const problems = options.check ? await checkExport(result) : [];
      if (options.json) {
        printJson({ dir, files: Object.keys(result.files), warnings: result.plan.warnings, ...(options.check ? { problems } : {}) });
      } else {
        const style = styleFor(process.stderr);
        for (const { key, message } of result.plan.warnings) process.stderr.write(`${style.yellow('warning')} ${key}: ${message}\n`);
        const shown = path.relative(process.cwd(), dir) || '.';
        process.stdout.write(`Wrote ${shown}/ (${Object.keys(result.files).length} files) for ${options.target}.\n`);
        if (options.check) {
          for (const problem of problems) process.stdout.write(`${style.red('invalid')} ${problem.object}: ${problem.message}\n`);
          if (!problems.length) process.stdout.write(`${style.green('valid')} ${result.manifests.length} manifests against the Kubernetes${options.target === 'knative' ? ' and Knative' : ''} schemas.\n`);
        }
        process.stdout.write(`Next: docker build -f ${shown}/Containerfile -t ${result.plan.image} ${shown}, then ${shown}/README.md.\n`);
      }
      if (problems.length) process.exitCode = EXIT.failed;
    });
}
