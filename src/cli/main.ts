/** The `kiln` command line. */
import { Command } from 'commander';
import { registerCheck } from './check';

declare const KILN_VERSION: string;

const program = new Command('kiln')
  .description('Check, deploy and call fal.App-style serverless apps on a Kiln runtime.')
  .version(KILN_VERSION)
  .showHelpAfterError('(run kiln --help for usage)');

registerCheck(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`kiln: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
