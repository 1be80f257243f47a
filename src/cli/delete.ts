/** `kiln delete NAME`: stops the app's runners and removes the app from the runtime. */
import type { Command } from 'commander';
import { connect } from './connection';
import { printJson, styleFor } from './format';

export function registerDelete(program: Command): void {
  program
    .command('delete')
    .description('delete an app: stop its runners and remove it from the runtime')
    .argument('<name>', "the app's name, as `kiln list` shows it")
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const detail = await connect(command).deleteApp(name);
      if (options.json) printJson({ deleted: name, detail });
      else process.stdout.write(`${styleFor(process.stdout).green('✓')} Deleted ${name}\n`);
    });
}
