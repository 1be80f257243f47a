import { appendFileSync } from 'node:fs';
import { format } from 'node:util';

/**
 * Prints a line of the suite's output where the person running the tests sees it. Under
 * code-server the extension host's stdout is not the launcher's terminal, so the launcher names
 * a file in KILN_TEST_REPORT and echoes what is appended to it; in desktop VS Code the extension
 * host's console already reaches the terminal.
 */
export function print(...args: unknown[]): void {
  const line = format(...args);
  const reportFile = process.env.KILN_TEST_REPORT;
  if (reportFile) {
    appendFileSync(reportFile, `${line}\n`);
  } else {
    console.log(line);
  }
}
