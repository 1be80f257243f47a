/**
 * `kiln scale NAME [--min N] [--max N] [--keep-alive S] [--buffer N] [--multiplexing N] [--reset]`:
 * changes an app's scale settings while it runs. Changed settings outlive redeploys until
 * `--reset` (or `kiln deploy --reset-scale`) returns to the values in the code. With no change
 * it shows the current settings.
 */
import type { Command } from 'commander';
import { formatDuration } from '../appconfig/cost';
import type { ScaleRequest } from '../shared/api';
import type { AppDetail, ScaleSettings } from '../shared/api';
import { connect } from './connection';
import { parseCount, UsageError } from './failures';
import { formatFields, printJson, styleFor } from './format';

interface ScaleOptions {
  min?: number;
  max?: number;
  keepAlive?: number;
  buffer?: number;
  multiplexing?: number;
  reset?: boolean;
  json?: boolean;
}

export function registerScale(program: Command): void {
  program
    .command('scale')
    .description("show or change an app's scale settings while it runs (kept across redeploys)")
    .argument('<name>', "the app's name")
    .option('--min <n>', 'min_concurrency: runners kept warm even with no traffic', parseCount())
    .option('--max <n>', 'max_concurrency: the most runners at once', parseCount(1))
    .option('--keep-alive <seconds>', 'keep_alive: how long an idle runner stays warm', parseCount())
    .option('--buffer <n>', 'concurrency_buffer: extra warm runners beyond the load', parseCount())
    .option('--multiplexing <n>', 'max_multiplexing: requests one runner serves at once', parseCount(1))
    .option('--reset', 'drop every setting changed at runtime first, back to the values in the code')
    .option('--json', 'print the app (with its scale settings) as JSON')
    .action(async (name: string, options: ScaleOptions, command: Command) => {
      const change = scaleChange(options);
      const client = connect(command);
      const app = Object.keys(change).length ? await client.scale(name, change) : await client.getApp(name);
      if (options.json) printJson(app);
      else process.stdout.write(`${formatScale(app)}\n`);
    });
}

function scaleChange(options: ScaleOptions): ScaleRequest {
  if (options.min !== undefined && options.max !== undefined && options.min > options.max) {
    throw new UsageError(`--min ${options.min} is above --max ${options.max}: min_concurrency cannot exceed max_concurrency`);
  }
  const change: ScaleRequest = {};
  if (options.reset) change.reset = true;
  if (options.min !== undefined) change.minConcurrency = options.min;
  if (options.max !== undefined) change.maxConcurrency = options.max;
  if (options.keepAlive !== undefined) change.keepAlive = options.keepAlive;
  if (options.buffer !== undefined) change.concurrencyBuffer = options.buffer;
  if (options.multiplexing !== undefined) change.maxMultiplexing = options.multiplexing;
  return change;
}

/** The settings under the names the code uses, each changed one marked. */
export function formatScale(app: AppDetail): string {
  const style = styleFor(process.stdout);
  const overridden = (key: keyof ScaleSettings) => (key in app.scaleOverrides ? style.yellow('  set with kiln scale') : '');
  const { scale } = app;
  const fields: [string, string][] = [
    ['min_concurrency', `${scale.minConcurrency}${overridden('minConcurrency')}`],
    ['max_concurrency', `${scale.maxConcurrency ?? 'no limit'}${overridden('maxConcurrency')}`],
    ['keep_alive', `${keepAlive(scale.keepAlive)}${overridden('keepAlive')}`],
    ['concurrency_buffer', `${scale.concurrencyBuffer}${overridden('concurrencyBuffer')}`],
    ['max_multiplexing', `${scale.maxMultiplexing}${overridden('maxMultiplexing')}`],
    ['runners', `${app.runners} (${app.inFlight} in flight, ${app.queued} queued)`],
  ];
  const lines = [`Scale settings of ${style.bold(app.name)} (revision ${app.revision})`, formatFields(fields)];
  if (Object.keys(app.scaleOverrides).length) {
    lines.push(style.dim(`Settings set with kiln scale outlive redeploys; \`kiln scale ${app.name} --reset\` returns to the code's.`));
  }
  return lines.join('\n');
}

/** Seconds, as the code writes keep_alive, with the longer reading where it helps: "300 s (5 min)". */
function keepAlive(seconds: number): string {
  if (seconds === 0) return '0 s (scale to zero at once)';
  return seconds < 60 ? `${seconds} s` : `${seconds} s (${formatDuration(seconds)})`;
}
