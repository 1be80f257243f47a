// What the test launchers (test/vscode/launch.mjs, test/e2e/run.mjs) share: their one option,
// their clean-up on the way out (also on Ctrl-C), and how they print durations.
import { parseArgs } from 'node:util';

/** `--grep TEXT`, or a usage message and exit 2. */
export function parseGrep(script) {
  try {
    return parseArgs({ options: { grep: { type: 'string' } } }).values;
  } catch (error) {
    console.error(`${error.message}\nUsage: npm run ${script} [-- --grep TEXT]`);
    process.exit(2);
  }
}

export function seconds(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/**
 * Everything that must be undone on the way out, newest first; `cleanUp` runs the steps once.
 * A signal runs them too, calls `onInterrupt`, and exits 130.
 */
export function cleanups({ onInterrupt = () => {} } = {}) {
  const steps = [];
  let cleaning;
  const cleanUp = () => {
    cleaning ??= (async () => {
      for (const step of steps.reverse()) {
        await step().catch((error) => console.error(`cleanup: ${error.message}`));
      }
    })();
    return cleaning;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      onInterrupt();
      console.error(`\n${signal}: stopping`);
      cleanUp().finally(() => process.exit(130));
    });
  }
  return { add: (step) => steps.push(step), cleanUp };
}
