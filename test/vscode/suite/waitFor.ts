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
