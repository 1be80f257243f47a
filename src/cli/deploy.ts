/**
 * `kiln deploy FILE[::Class]`: uploads the app and the local modules it imports, then shows the
 * runtime's progress until the new revision is live or the deploy fails (with file:line). Ctrl-C
 * cancels the deploy on the runtime, so the previous revision keeps serving; a second Ctrl-C
 * stops waiting for the runtime to confirm.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { collectSources, DeployFailedError } from '../client';
import type { DeployError, DeployRequest } from '../shared/api';
import { connect, resolvePython } from './connection';
import { DeployProgress } from './deployProgress';
import { EXIT, UsageError } from './failures';
import { printJson, styleFor } from './format';

interface DeployOptions {
  name?: string;
  class?: string;
  python?: string;
  resetScale?: boolean;
  json?: boolean;
}

export function registerDeploy(program: Command): void {
  program
    .command('deploy')
    .description('deploy an app as a new revision, streaming progress until it is live')
    .argument('<file>', 'the app file, as FILE or FILE::Class')
    .option('--name <name>', "the app's name (default: the class's name= keyword, or its name in kebab-case)")
    .option('--class <class>', 'which fal.App class to deploy, when the file has several')
    .option('--python <path>', "the Python interpreter to run the app with (default: the runtime's)")
    .option('--reset-scale', 'forget scale settings changed with `kiln scale` and use the values in the code')
    .option('--json', 'print the deployed app as JSON instead of progress')
    .action(async (target: string, options: DeployOptions, command: Command) => {
      const request = deployRequest(target, options);
      const root = path.dirname(path.resolve(splitTarget(target).file));
      const client = connect(command);
      const progress = options.json ? undefined : new DeployProgress(process.stdout, styleFor(process.stdout), target);
      const cancel = new AbortController();
      const onInterrupt = () => {
        if (cancel.signal.aborted) process.exit(EXIT.interrupted);
        progress?.cancelling();
        cancel.abort();
      };
      process.on('SIGINT', onInterrupt);
      try {
        const app = await client.deploy(request, { signal: cancel.signal, onEvent: (event) => progress?.handle(event) });
        if (options.json) printJson(app);
      } catch (error) {
        progress?.stop();
        if (!(error instanceof DeployFailedError)) throw error;
        if (options.json) printJson({ error: error.error, step: error.step });
        else process.stderr.write(describeFailure(error.error, root, request.entry));
        process.exitCode = EXIT.failed;
      } finally {
        process.off('SIGINT', onInterrupt);
      }
    });
}

/** "app.py::TextToImage" -> the file and the class; a Windows drive's colon is left alone. */
export function splitTarget(target: string): { file: string; className?: string } {
  const at = target.lastIndexOf('::');
  if (at < 0) return { file: target };
  return { file: target.slice(0, at), className: target.slice(at + 2) || undefined };
}

function deployRequest(target: string, options: DeployOptions): DeployRequest {
  const { file, className: fromTarget } = splitTarget(target);
  if (fromTarget && options.class && fromTarget !== options.class) {
    throw new UsageError(`${target} names class ${fromTarget} but --class says ${options.class}: give one of them`);
  }
  const { entry, files } = collectSources(file);
  const request: DeployRequest = { entry, files };
  const className = fromTarget ?? options.class;
  if (className) request.className = className;
  if (options.name) request.name = options.name;
  // A path with a folder in it is a local interpreter (".venv/bin/python"): make it absolute for
  // the runtime; a bare command ("python3.11") is looked up on the runtime's PATH.
  if (options.python) request.python = resolvePython(options.python);
  if (options.resetScale) request.resetScale = true;
  return request;
}

/**
 * The failure with its place in the user's files as editors and terminals link it, relative to
 * the working folder: "examples/app.py:12: message". Configuration problems are in the app's file.
 */
export function describeFailure(error: DeployError, root: string, entry: string): string {
  const where = (file: string | undefined, line: number | undefined) => {
    if (!file) return '';
    const shown = path.isAbsolute(file) ? file : path.relative(process.cwd(), path.join(root, file));
    return `${shown}${line ? `:${line}` : ''}: `;
  };
  const lines = [`kiln: deploy failed: ${where(error.file, error.line)}${error.message}`];
  for (const problem of error.problems ?? []) {
    lines.push(`  ${where(error.file ?? entry, problem.line)}${problem.severity} ${problem.code} ${problem.message}`);
  }
  return `${lines.join('\n')}\n`;
}
