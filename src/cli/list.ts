/** `kiln list`: every app on the runtime, one row each. */
import type { Command } from 'commander';
import type { AppState, AppSummary } from '../shared/api';
import { connect } from './connection';
import { formatTable, formatUsd, printJson, type Style, styleFor } from './format';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list the deployed apps with their state, revision, runners and cost so far')
    .option('--json', 'print the apps as a JSON array')
    .action(async (options: { json?: boolean }, command: Command) => {
      const apps = await connect(command).listApps();
      if (options.json) printJson(apps);
      else if (apps.length === 0) process.stdout.write('No apps deployed yet. Deploy one with `kiln deploy app.py`.\n');
      else process.stdout.write(`${formatAppTable(apps, styleFor(process.stdout))}\n`);
    });
}

const STATE_COLOURS: Record<AppState, keyof Style> = { live: 'green', deploying: 'cyan', failing: 'red', stopped: 'dim' };

export function formatAppTable(apps: AppSummary[], style: Style): string {
  const rows = [...apps]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((app) => [
      style.bold(app.name),
      style[STATE_COLOURS[app.state] ?? 'dim'](app.state),
      String(app.revision),
      app.machineType,
      String(app.runners),
      formatUsd(app.costUsd),
      app.url,
    ]);
  return formatTable(['NAME', 'STATE', 'REV', 'MACHINE', 'RUNNERS', 'COST', 'URL'], rows, { alignRight: [2, 4, 5] });
}
