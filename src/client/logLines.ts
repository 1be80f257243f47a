/**
 * Log records as lines of text, `TIME RUNNER STREAM TEXT`, for `kiln logs` on a terminal and
 * the editor's log view alike. Colour is the caller's choice of Style (plain in the editor, whose
 * grammar colours the columns).
 */
import type { LogRecord } from '../shared/api';

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const ansi = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;
const plain = (text: string) => text;

export const COLOURS: Style = {
  bold: ansi(1, 22), dim: ansi(2, 22), red: ansi(31, 39), green: ansi(32, 39), yellow: ansi(33, 39), cyan: ansi(36, 39),
};
export const NO_COLOURS: Style = { bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain };

/** Local wall-clock time with milliseconds, with the date in front when it is not today. */
export function formatClock(iso: string, now: Date = new Date()): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return iso;
  const two = (n: number) => String(n).padStart(2, '0');
  const clock = `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}.${String(time.getMilliseconds()).padStart(3, '0')}`;
  const sameDay = time.toDateString() === now.toDateString();
  return sameDay ? clock : `${time.getFullYear()}-${two(time.getMonth() + 1)}-${two(time.getDate())} ${clock}`;
}

/** What the runtime's own records (not a runner's output) show in the runner column. */
const RUNTIME_SOURCE = 'runtime';

/**
 * One log record as `TIME RUNNER STREAM TEXT`. stderr is marked in the stream column (red on a
 * terminal); the runtime's own lines are dimmed, its warnings and errors coloured.
 */
export function formatLogRecord(record: LogRecord, style: Style, runnerWidth: number, now?: Date): string {
  const source = (record.runner ?? RUNTIME_SOURCE).padEnd(runnerWidth);
  let stream = record.stream.padEnd(6);
  let text = record.text;
  if (record.stream === 'stderr') {
    stream = style.red(stream);
  } else if (record.stream === 'system') {
    stream = style.dim(stream);
    if (record.level === 'error') text = style.red(text);
    else if (record.level === 'warning') text = style.yellow(text);
  }
  return `${style.dim(formatClock(record.time, now))} ${style.cyan(source)} ${stream} ${text}`;
}

export function runnerColumnWidth(records: LogRecord[]): number {
  return Math.max(RUNTIME_SOURCE.length, ...records.map((record) => record.runner?.length ?? 0));
}

