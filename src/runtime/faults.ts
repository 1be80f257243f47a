/**
 * Where a failure of the runtime's own goes when the work that hit it has no caller left to
 * answer: a background step (metering a stopped runner, saving a queued request's result, a
 * log file's write) reports it here and the runtime keeps serving. Each such step owns its
 * promise and calls this; nothing catches rejections globally, so a step that forgets to is
 * still a crash that shows the bug.
 */
export function reportFault(what: string, error: unknown): void {
  const text = error instanceof Error ? error.stack ?? error.message : String(error);
  process.stderr.write(`kiln runtime: ${what} failed: ${text}\n`);
}
