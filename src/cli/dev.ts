/**
 * `kiln dev FILE[::Class]`: hot reload, like `fal run` and `modal serve`. Deploys a dev copy of
 * the app (NAME-dev), redeploys it each time the file or a local module it imports is saved,
 * and keeps the last good revision serving when a save breaks it. Ctrl-C stops and deletes the
 * dev copy.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { devCopyName, DevLoop, type DevLoopEvent, watchFilesOnDisk } from '../client';
import { AppFileError, checkAppFile } from '../pyparse';
import { connect, resolvePython } from './connection';
import { describeFailure, splitTarget } from './deploy';
import { EXIT, UsageError } from './failures';
import { formatElapsed, type Style, styleFor } from './format';

interface DevOptions {
  name?: string;
  python?: string;
}

export function registerDev(program: Command): void {
  program
    .command('dev')
    .description('deploy a dev copy of an app and redeploy it on every save, until Ctrl-C (which deletes the copy)')
    .argument('<file>', 'the app file, as FILE or FILE::Class')
    .option('--name <name>', "the dev copy's name (default: the app's name with -dev)")
    .option('--python <path>', "the Python interpreter to run the app with (default: the runtime's)")
    .action(async (target: string, options: DevOptions, command: Command) => {
      const { file, className } = splitTarget(target);
      const app = await appInFile(file, className);
      // Only to fail now, with exit code 3, when no runtime runs: the loop connects afresh each deploy.
      connect(command);
      const style = styleFor(process.stdout);
      const entry = path.resolve(file);
      const loop = new DevLoop({
        entryFile: entry,
        className: app.className,
        name: options.name ?? devCopyName(app.name),
        ...(options.python ? { python: resolvePython(options.python) } : {}),
        connect: async () => connect(command),
        existingClient: async () => connect(command),
        watch: watchFilesOnDisk,
        onEvent: printer(style, path.dirname(entry), path.basename(entry)),
      });
      process.stdout.write(`Dev copy ${style.bold(loop.name)} of ${app.className}: redeployed on every save. Ctrl-C stops it and deletes the copy.\n`);
      // Listening before the first deploy: a Ctrl-C during it cancels it and deletes what it made.
      let stopping = false;
      const stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', () => {
          stopping = true;
          process.stdout.write('\nStopping: deleting the dev copy…\n');
          // A second Ctrl-C leaves without waiting for the runtime.
          process.once('SIGINT', () => process.exit(EXIT.interrupted));
          loop.stop().catch((error: unknown) => {
            process.stderr.write(`kiln: could not delete the dev copy ${loop.name}: ${(error as Error).message}\n`);
          }).finally(resolve);
        });
      });
      await loop.start();
      if (!stopping) {
        const watched = loop.files().map((watchedFile) => path.relative(process.cwd(), watchedFile));
        process.stdout.write(style.dim(`Watching ${watched.join(', ')}\n`));
      }
      await stopped;
      process.exitCode = EXIT.interrupted;
    });
}

/** The App class to run and its name, read from the file as the editor reads it. */
async function appInFile(file: string, className: string | undefined): Promise<{ className: string; name: string }> {
  const { chosen } = await checkAppFile(file, className).catch((error: unknown) => {
    throw error instanceof AppFileError ? new UsageError(error.message) : error;
  });
  return { className: chosen.app.className, name: chosen.validation.settings.name };
}

/** One line per reload; the environment's build output (a first pip install) indented under it. */
function printer(style: Style, root: string, entry: string): (event: DevLoopEvent) => void {
  return (event) => {
    const out = process.stdout;
    switch (event.type) {
      case 'deploying':
        out.write(`${style.cyan('↻')} ${event.changed ? `${path.relative(process.cwd(), event.changed)} changed: deploying` : 'deploying'}…\n`);
        break;
      case 'progress':
        if (event.event.type === 'log' && event.event.step === 'environment') out.write(style.dim(`    ${event.event.text}\n`));
        if (event.event.type === 'warning') out.write(style.yellow(`! ${event.event.message}\n`));
        break;
      case 'live': {
        const endpoint = event.app.endpoints.find((candidate) => !candidate.isHealth);
        out.write(`${style.green('✓')} revision ${event.app.revision} live in ${formatElapsed(event.ms)}${endpoint ? style.dim(`  POST ${endpoint.url}`) : ''}\n`);
        break;
      }
      case 'failed':
        process.stderr.write(describeFailure(event.error, root, entry));
        out.write(style.yellow(event.serving ? `  revision ${event.serving} keeps serving; fix the file and save again\n` : '  fix the file and save again\n'));
        break;
      case 'stopped':
        out.write(event.deleted ? 'Deleted the dev copy.\n' : 'Stopped.\n');
        break;
    }
  };
}
