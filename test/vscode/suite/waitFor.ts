/**
 * Polls `condition` until it holds, failing with `message` after `timeoutMs`. Tests wait on
 * observable state this way rather than sleeping for a guessed time.
 */
export async function waitFor(condition: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(message);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Asks `probe` again until `accept` takes its answer, and returns that answer. After
 * `timeoutMs` it fails with `describe(last answer)`, so the failure shows what was there instead.
 * For state that only a request reveals: what a provider answers, a document's diagnostics.
 */
export async function eventually<T>(probe: () => T | PromiseLike<T>, accept: (value: T) => boolean, timeoutMs: number,
  describe: (last: T) => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(describe(value));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
