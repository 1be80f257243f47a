import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import { print } from './output';

/**
 * The extension-host entry point (extensionTestsPath) for both desktop VS Code, driven by
 * @vscode/test-electron, and code-server, driven by test/vscode/launch.mjs.
 *
 * Environment it reads:
 * - KILN_TEST_RESULTS: where to write the results as JSON once the run ends. code-server's
 *   extension host stays up after run() settles, so this file is how the launcher learns that the
 *   suite finished and how it went.
 * - KILN_TEST_REPORT: where mocha's spec reporter writes (see output.ts).
 * - KILN_TEST_GREP: run only the tests whose full title contains this text.
 * - KILN_TEST_COLOR=1: colour the reporter's output (the launcher's terminal is a TTY).
 */

export interface FailureRecord {
  title: string;
  fullTitle: string;
  message: string;
  stack: string;
}

export interface TestRecord {
  title: string;
  fullTitle: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
}

export interface SuiteResults {
  passes: number;
  pending: number;
  failures: FailureRecord[];
  tests: TestRecord[];
}

// Every other file assumes Kiln may already be active; this one must run while it is not.
const runsFirst = 'activation.test.js';

export async function run(): Promise<void> {
  const results: SuiteResults = { passes: 0, pending: 0, failures: [], tests: [] };
  try {
    await runMocha(results);
  } catch (error) {
    // A test file that throws while loading never reaches a reporter; record it so the launcher
    // shows it instead of waiting for results that never come.
    const err = error instanceof Error ? error : new Error(String(error));
    print(`\n  The suite could not run: ${err.stack ?? err.message}`);
    results.failures.push({ title: 'loading the test files', fullTitle: 'loading the test files',
      message: err.message, stack: err.stack ?? '' });
  }
  if (results.failures.length === 0 && results.tests.length === 0) {
    const message = process.env.KILN_TEST_GREP
      ? `no test title contains "${process.env.KILN_TEST_GREP}"`
      : `no tests found in ${__dirname}`;
    print(`\n  ${message}`);
    results.failures.push({ title: 'selecting tests', fullTitle: 'selecting tests', message, stack: '' });
  }
  writeResults(results);
  if (results.failures.length > 0) {
    throw new Error(`${results.failures.length} of the extension-host tests failed`);
  }
}

function runMocha(results: SuiteResults): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    // Activation and language-server start-up take seconds on a loaded 2-core machine; tests
    // that wait on something bound their own waits more tightly.
    timeout: 60_000,
    color: process.env.KILN_TEST_COLOR === '1',
    grep: process.env.KILN_TEST_GREP || undefined,
  });
  Mocha.reporters.Base.consoleLog = print;
  for (const file of testFiles()) {
    mocha.addFile(file);
  }
  return new Promise((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('test end', (test) => {
      results.tests.push({ title: test.title, fullTitle: test.fullTitle(), state: test.state ?? 'pending',
        durationMs: test.duration });
    });
    runner.on('pass', () => { results.passes += 1; });
    runner.on('pending', () => { results.pending += 1; });
    runner.on('fail', (test, err: Error) => {
      results.failures.push({ title: test.title, fullTitle: test.fullTitle(), message: err.message,
        stack: err.stack ?? '' });
    });
  });
}

function testFiles(): string[] {
  return readdirSync(__dirname)
    .filter((name) => name.endsWith('.test.js'))
    .sort((a, b) => Number(b === runsFirst) - Number(a === runsFirst) || a.localeCompare(b))
    .map((name) => path.join(__dirname, name));
}

function writeResults(results: SuiteResults): void {
  const file = process.env.KILN_TEST_RESULTS;
  if (!file) {
    return;
  }
  // Written whole and renamed into place: the launcher reads the file as soon as it appears.
  writeFileSync(`${file}.partial`, JSON.stringify(results, null, 2));
  renameSync(`${file}.partial`, file);
}
