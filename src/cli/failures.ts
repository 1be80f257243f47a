/**
 * The CLI's exit codes, and which failure gets which: scripts branch on them.
 * 0 ok, 1 the operation failed, 2 bad usage or unreadable input, 3 no runtime reachable,
 * 130 interrupted with Ctrl-C.
 */
import { CommanderError, InvalidArgumentError } from 'commander';
import { DeployCancelledError, NoRuntimeError, RuntimeConfigError, RuntimeUnreachableError, SourcesError } from '../client';

export const EXIT = { ok: 0, failed: 1, usage: 2, noRuntime: 3, interrupted: 130 } as const;

/** The user asked for something the CLI cannot do as asked; the message says what to change. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (error instanceof UsageError || error instanceof SourcesError || error instanceof RuntimeConfigError) return EXIT.usage;
  if (error instanceof RuntimeUnreachableError || error instanceof NoRuntimeError) return EXIT.noRuntime;
  if (error instanceof DeployCancelledError) return EXIT.interrupted;
  return EXIT.failed;
}

/** Commander prints its own usage errors; everything else is one `kiln: message` line. */
export function reportFailure(error: unknown): void {
  if (error instanceof CommanderError) return;
  process.stderr.write(`kiln: ${error instanceof Error ? error.message : String(error)}\n`);
}

/** A number above zero, fractions allowed, for options such as --request-timeout. */
export function parsePositive(value: string): number {
  const number = Number(value);
  if (!(number > 0) || !Number.isFinite(number)) throw new InvalidArgumentError('expected a number above 0.');
  return number;
}

/** A whole number at least `min`, for options such as --tail and --min (commander reports a bad one). */
export function parseCount(min = 0): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value.trim()) || number < min) {
      throw new InvalidArgumentError(`expected a whole number${min > 0 ? ` of ${min} or more` : ''}.`);
    }
    return number;
  };
}
