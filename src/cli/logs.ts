/**
 * `kiln logs NAME`: the app's log records, every runner's interleaved in time order, as
 * `TIME RUNNER STREAM TEXT`. With -f it keeps following until Ctrl-C, across runtime restarts (it
 * waits for the runtime and resumes after the last line shown); --json prints one record per line
 * (NDJSON), following or not.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { type FollowState, followLogsAcrossRestarts } from '../client';
import type { LogQuery, LogRecord } from '../shared/api';
import { connect } from './connection';
import { parseCount } from './failures';
import { formatLogRecord, runnerColumnWidth, styleFor } from './format';

interface LogsOptions {
  follow?: boolean;
  since?: string;
  tail?: number;
  runner?: string;
  search?: string;
  json?: boolean;
}

export function registerLogs(program: Command): void {
  program
    .command('logs')
    .description("show an app's logs: its runners' output and the runtime's messages about it")
    .argument('<name>', "the app's name")
    .option('-f, --follow', 'keep printing new lines as they come, until Ctrl-C')
    .option('--since <when>', 'only lines since a time (ISO 8601) or for a duration back from now (30s, 10m, 2h, 1d)', parseSince)
    .option('-n, --tail <lines>', 'only the last N lines', parseCount(1))
    .option('--runner <id>', "only one runner's lines")
    .option('--search <text>', 'only lines containing the text')
    .option('--json', 'print each record as one line of JSON')
    .action(async (name: string, options: LogsOptions, command: Command) => {
      const client = connect(command);
      const query: Omit<LogQuery, 'follow'> = { since: options.since, tail: options.tail, runner: options.runner, search: options.search };
      const style = styleFor(process.stdout);
      const print = (record: LogRecord, width: number) =>
        process.stdout.write(`${options.json ? JSON.stringify(record) : formatLogRecord(record, style, width)}\n`);

      if (!options.follow) {
        const records = await client.logs(name, query);
        const width = runnerColumnWidth(records);
        for (const record of records) print(record, width);
        if (records.length === 0 && !options.json) process.stderr.write(`No log lines for ${name}${filtered(options) ? ' match' : ' yet'}.\n`);
        return;
      }
      // Following: the runner column widens as longer runner ids appear.
      let width = runnerColumnWidth([]);
      let first = true;
      await followLogsAcrossRestarts(name, query, (record) => {
        width = Math.max(width, runnerColumnWidth([record]));
        print(record, width);
      }, {
        // The runtime found at the start, then whichever runs for the data directory (or KILN_URL) by then.
        connect: async () => {
          if (!first) return connect(command);
          first = false;
          return client;
        },
        signal: new AbortController().signal,
        onState: reportConnection(),
      });
    });
}

/** Says on stderr when the runtime goes away and when the tail picks up again: once each, not per retry. */
function reportConnection(): (state: FollowState) => void {
  let lost = false;
  return (state) => {
    if (state.state === 'waiting' && !lost) {
      lost = true;
      process.stderr.write(`kiln: lost the runtime (${state.reason}); following again once it is back (Ctrl-C to stop)\n`);
    } else if (state.state === 'open' && lost) {
      lost = false;
      process.stderr.write('kiln: the runtime is back; following on from the last line shown\n');
    }
  };
}

function filtered(options: LogsOptions): boolean {
  return Boolean(options.since || options.runner || options.search);
}

function parseSince(value: string): string {
  if (/^\d+[smhd]$/.test(value) || !Number.isNaN(Date.parse(value))) return value;
  throw new InvalidArgumentError('expected an ISO 8601 time or a duration such as 30s, 10m, 2h or 1d.');
}
