/** The `kiln` command line. */
import { Command } from 'commander';
import { registerCheck } from './check';
import { registerDelete } from './delete';
import { registerDeploy } from './deploy';
import { registerDev } from './dev';
import { registerExport } from './export';
import { exitCodeFor, reportFailure } from './failures';
import { registerInvoke } from './invoke';
import { registerList } from './list';
import { registerLogs } from './logs';
import { registerRuntime } from './runtime';
import { registerScale } from './scale';
import { registerSecrets } from './secrets';

declare const KILN_VERSION: string;

const program = new Command('kiln')
  .description('Check, deploy and call fal.App-style serverless apps on a Kiln runtime.')
  .version(KILN_VERSION)
  .option('--data-dir <dir>', "the runtime's data directory (default: KILN_HOME, else the platform's data folder)")
  .addHelpText('after', `
Environment:
  KILN_HOME               the data directory, as --data-dir
  KILN_URL, KILN_TOKEN    talk to the runtime at this URL with this token (set both), e.g. a GPU server

Exit codes: 0 ok, 1 the operation failed, 2 bad usage or unreadable input, 3 no runtime reachable,
130 interrupted (Ctrl-C).`)
  .showHelpAfterError('(run kiln --help for usage)')
  // Usage errors exit 2, not commander's 1; subcommands inherit this from the program.
  .exitOverride();

registerCheck(program);
registerDeploy(program);
registerDev(program);
registerList(program);
registerInvoke(program);
registerLogs(program);
registerScale(program);
registerDelete(program);
registerSecrets(program);
registerRuntime(program);
registerExport(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  reportFailure(error);
  process.exitCode = exitCodeFor(error);
});
