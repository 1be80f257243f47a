/**
 * `kiln invoke NAME [PATH]`: calls an endpoint and prints its JSON output on stdout, so it pipes
 * into jq. An error status prints the app's `detail` on stderr and exits 1. --queue goes through
 * the queue API as fal clients do, reporting each status change on stderr; Ctrl-C then cancels
 * the request.
 */
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { Command } from 'commander';
import { formatDetail, type InvokeResult, type KilnClient } from '../client';
import { INVOKE_HEADERS, type QueueStatus } from '../shared/api';
import { connect } from './connection';
import { EXIT, UsageError } from './failures';
import { formatElapsed, printJson, type Style, styleFor } from './format';

interface InvokeOptions {
  data: string;
  queue?: boolean;
  json?: boolean;
}

export function registerInvoke(program: Command): void {
  program
    .command('invoke')
    .description("call an app's endpoint and print its output")
    .argument('<name>', "the app's name")
    .argument('[path]', "the endpoint's path", '/')
    .option('-d, --data <json>', 'the input: JSON, or @FILE to read it from a file (@- for stdin)', '{}')
    .option('--queue', "submit through the queue API and show the request's status as it changes")
    .option('--json', 'print the status, headers, body and duration as one JSON object')
    .action(async (name: string, endpoint: string, options: InvokeOptions, command: Command) => {
      const input = readInput(options.data);
      const client = connect(command);
      const result = options.queue ? await invokeQueued(client, name, endpoint, input) : await client.invoke(name, endpoint, input);
      if (result) report(result, options);
    });
}

export function readInput(data: string): unknown {
  let text = data;
  if (data.startsWith('@')) {
    const file = data.slice(1);
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
      throw new UsageError(`cannot read the input from ${file === '-' ? 'stdin' : file}: ${reason}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--data is not valid JSON (${(error as Error).message}): quote it for the shell, e.g. --data '{"prompt": "a cat"}'`);
  }
}

/** fal's status for a cancelled request has no standard reason phrase. */
const REASONS: Record<number, string> = { 499: 'Cancelled' };

function report(result: InvokeResult, options: InvokeOptions): void {
  const ok = result.status >= 200 && result.status < 300;
  if (options.json) {
    printJson(result);
  } else if (ok) {
    process.stdout.write(`${typeof result.body === 'string' ? result.body : JSON.stringify(result.body, null, 2)}\n`);
  } else {
    const errorType = result.headers[INVOKE_HEADERS.errorType];
    const detail = result.body && typeof result.body === 'object' && 'detail' in result.body ? (result.body as { detail: unknown }).detail : result.body;
    process.stderr.write(`kiln: ${result.status} ${REASONS[result.status] ?? STATUS_CODES[result.status] ?? ''}` +
      `${errorType ? ` (${errorType})` : ''}: ${formatDetail(detail) || 'no detail'}\n`);
  }
  if (!options.json && process.stderr.isTTY) process.stderr.write(`${timing(result, styleFor(process.stderr))}\n`);
  if (!ok) process.exitCode = EXIT.failed;
}

/** "200 · 12 ms · runner r-1 · revision 2 · cold start 340 ms", from the runtime's headers. */
function timing(result: InvokeResult, style: Style): string {
  const header = (name: string) => result.headers[name];
  const parts = [String(result.status), formatElapsed(result.durationMs)];
  if (header(INVOKE_HEADERS.runner)) parts.push(`runner ${header(INVOKE_HEADERS.runner)}`);
  if (header(INVOKE_HEADERS.revision)) parts.push(`revision ${header(INVOKE_HEADERS.revision)}`);
  const coldStart = Number(header(INVOKE_HEADERS.coldStartMs));
  if (coldStart > 0) parts.push(`cold start ${formatElapsed(coldStart)}`);
  const queued = Number(header(INVOKE_HEADERS.queueMs));
  if (queued > 0) parts.push(`queued ${formatElapsed(queued)}`);
  return style.dim(parts.join(' · '));
}

/** Submits, follows the status to COMPLETED and fetches the result; undefined when cancelled. */
async function invokeQueued(client: KilnClient, name: string, endpoint: string, input: unknown): Promise<InvokeResult | undefined> {
  const style = styleFor(process.stderr);
  const submitted = await client.queueSubmit(name, endpoint, input);
  const id = submitted.request_id;
  process.stderr.write(`Queued request ${style.bold(id)}\n`);
  const interrupt = new AbortController();
  const onInterrupt = () => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    interrupt.abort();
  };
  process.on('SIGINT', onInterrupt);
  try {
    const completed = await client.waitForQueued(name, id, statusPrinter(style), { signal: interrupt.signal });
    if (!completed) {
      const outcome = await client.queueCancel(name, id);
      process.stderr.write(outcome === 'ALREADY_COMPLETED'
        ? `Request ${id} had already completed; its result stays available.\n`
        : `Cancellation of request ${id} requested.\n`);
      process.exitCode = EXIT.interrupted;
      return undefined;
    }
    return await client.queueResult(name, id);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** Prints a status line each time the status or queue position changes. */
function statusPrinter(style: Style): (status: QueueStatus) => void {
  let previous = '';
  return (status) => {
    let line: string;
    if (status.status === 'IN_QUEUE') line = `In queue, position ${status.queue_position}`;
    else if (status.status === 'IN_PROGRESS') line = 'In progress';
    else {
      const time = status.metrics.inference_time;
      line = `${status.error ? style.red('Completed with an error') : style.green('Completed')}${time !== null && time !== undefined ? ` in ${formatElapsed(time * 1000)}` : ''}`;
    }
    if (line !== previous) process.stderr.write(`  ${line}\n`);
    previous = line;
  };
}
