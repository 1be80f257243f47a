/**
 * How the CLI writes for people: colours only on a terminal (and never with NO_COLOR), aligned
 * columns, relative times, durations and dollars. Every verb formats through here, so they look
 * alike; --json output bypasses all of it.
 */
import { formatDuration, formatUsd } from '../appconfig/cost';
import { COLOURS, NO_COLOURS, type Style } from '../client/logLines';

export { formatUsd };
export { COLOURS, formatClock, formatLogRecord, NO_COLOURS, runnerColumnWidth, type Style } from '../client/logLines';

/** https://no-color.org; FORCE_COLOR for terminals that are not TTYs (CI log viewers). */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  if (env.NO_COLOR) return NO_COLOURS;
  return stream.isTTY || (env.FORCE_COLOR && env.FORCE_COLOR !== '0') ? COLOURS : NO_COLOURS;
}

const ANSI_PATTERN = /\x1b\[[0-9;]*m/g;

export function visibleLength(text: string): number {
  return text.replace(ANSI_PATTERN, '').length;
}

function pad(text: string, width: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, width - visibleLength(text)));
  return right ? fill + text : text + fill;
}

/**
 * Rows under a header, columns two spaces apart and as wide as their widest cell; the columns
 * whose indexes are in `alignRight` (numbers) line up on the right.
 */
export function formatTable(header: string[], rows: string[][], { alignRight = [] as number[] } = {}): string {
  const widths = header.map((title, column) => Math.max(visibleLength(title), ...rows.map((row) => visibleLength(row[column] ?? ''))));
  const line = (cells: string[]) => cells.map((cell, column) => pad(cell, widths[column]!, alignRight.includes(column))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Label/value pairs with the values lined up: "  URL       http://…". */
export function formatFields(fields: [string, string][], indent = '  '): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`).join('\n');
}

/** "just now", "45s ago", "2m ago", "3h ago", "5d ago", then the date. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  if (seconds < 30 * 86400) return `${Math.floor(seconds / 86400)}d ago`;
  return new Date(then).toISOString().slice(0, 10);
}

/** "850 ms", "4.2 s", then "2 min 3 s" as appconfig writes longer durations. */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatDuration(ms / 1000);
}

/** Cuts text to a terminal's width, so a redrawn status line never wraps. */
export function fitToWidth(text: string, columns: number | undefined): string {
  if (!columns || visibleLength(text) <= columns - 1) return text;
  const bare = text.replace(ANSI_PATTERN, '');
  return `${bare.slice(0, Math.max(0, columns - 2))}…`;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
