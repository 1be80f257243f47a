// Runs the extension-host suite (test/vscode/suite) against the built extension in dist/:
// in desktop VS Code through @vscode/test-electron when one is available, otherwise in
// code-server through a headless Chromium.
//
//   npm run test:vscode [-- --grep TEXT]
//
// Environment:
//   KILN_VSCODE_EXECUTABLE  a desktop VS Code binary to run the suite in
//   KILN_TEST_ELECTRON=1    without KILN_VSCODE_EXECUTABLE: try downloading desktop VS Code
//                           first, falling back to code-server when that fails
//   KILN_TEST_TIMEOUT_S     how long to wait for the suite's results in code-server (300)
//   KILN_TEST_KEEP=1        leave code-server running after the suite, until Ctrl-C
//   KILN_CACHE_DIR          where code-server and desktop VS Code downloads live (<repo>/.cache)
import * as esbuild from 'esbuild';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanups, parseGrep, seconds } from '../support/launcher.mjs';
import { codeServerInstallDir, openWorkbench, repoRoot, startCodeServer } from '../support/codeServer.mjs';
import { stopRuntime } from '../support/stopRuntime.mjs';
import { prepareWorkspace } from '../support/workspace.mjs';

const suiteDir = path.join(repoRoot, 'test/vscode/suite');
const outDir = path.join(repoRoot, 'out/test/vscode');
const extensionTestsPath = path.join(outDir, 'index.js');

const options = parseGrep('test:vscode');
const keep = process.env.KILN_TEST_KEEP === '1';
const deadlineMs = Number(process.env.KILN_TEST_TIMEOUT_S ?? 300) * 1000;
if (!(deadlineMs > 0)) {
  console.error(`KILN_TEST_TIMEOUT_S must be a number of seconds above 0, not "${process.env.KILN_TEST_TIMEOUT_S}".`);
  process.exit(2);
}
const logTailLines = 40;

const { add: addCleanup, cleanUp } = cleanups();

let exitCode;
try {
  exitCode = await main();
} catch (error) {
  console.error(`\n${error.message}`);
  exitCode = 1;
}
await cleanUp();
process.exit(exitCode);

async function main() {
  if (!existsSync(path.join(repoRoot, 'dist/extension.js'))) {
    throw new Error('dist/extension.js is missing: run `npm run build` first.');
  }
  await bundleSuite();
  const desktop = await desktopVSCode();
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'kiln-vscode-test-'));
  let keepRunDir = false;
  addCleanup(async () => {
    if (keepRunDir) {
      console.error(`Test run files (workspace, report, logs): ${runDir}`);
    } else {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
  const workspace = path.join(runDir, 'workspace');
  prepareWorkspace(workspace);
  // The extension starts a runtime of its own there, detached: it outlives VS Code, so stop it here.
  const kilnHome = path.join(runDir, 'kiln-home');
  process.env.KILN_HOME = kilnHome;
  addCleanup(() => stopRuntime(kilnHome));

  const code = desktop ? await runInDesktop(desktop, runDir, workspace) : await runInCodeServer(runDir, workspace);
  keepRunDir = code !== 0 || keep;
  return code;
}

async function bundleSuite() {
  rmSync(outDir, { recursive: true, force: true });
  const tests = readdirSync(suiteDir).filter((name) => name.endsWith('.test.ts'));
  await esbuild.build({
    entryPoints: [path.join(suiteDir, 'index.ts'), ...tests.map((name) => path.join(suiteDir, name))],
    outdir: outDir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    // vscode exists only inside the extension host; mocha is loaded from the repository's
    // node_modules (out/ sits inside the repository), with its reporters and their files intact.
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
  });
}

async function desktopVSCode() {
  const executable = process.env.KILN_VSCODE_EXECUTABLE;
  if (executable) {
    if (!existsSync(executable)) {
      throw new Error(`KILN_VSCODE_EXECUTABLE is ${executable}, which does not exist. Point it at a desktop VS ` +
        'Code binary, or unset it to run the suite in code-server.');
    }
    return executable;
  }
  if (process.env.KILN_TEST_ELECTRON !== '1') {
    return undefined;
  }
  const { downloadAndUnzipVSCode } = await import('@vscode/test-electron');
  const cachePath = path.join(path.dirname(codeServerInstallDir()), 'vscode-test');
  try {
    return await withDeadline(downloadAndUnzipVSCode({ version: 'stable', cachePath, timeout: 15_000 }), 120_000,
      'the download took longer than 2 minutes');
  } catch (error) {
    console.error(`Could not download desktop VS Code (${error.message}); running the suite in code-server.`);
    return undefined;
  }
}

async function runInDesktop(executable, runDir, workspace) {
  const { runTests } = await import('@vscode/test-electron');
  console.log(`Running the extension-host suite in ${executable}`);
  try {
    await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath,
      extensionTestsEnv: { KILN_TEST_GREP: options.grep, KILN_HOME: process.env.KILN_HOME },
      launchArgs: [workspace, '--user-data-dir', path.join(runDir, 'user-data'),
        '--extensions-dir', path.join(runDir, 'extensions')],
    });
    return 0;
  } catch (error) {
    const hint = process.platform === 'linux' && !process.env.DISPLAY
      ? ' Desktop VS Code needs a display: run under xvfb-run, or unset KILN_VSCODE_EXECUTABLE to use code-server.'
      : '';
    console.error(`The extension-host suite failed in desktop VS Code (${error.message}).${hint}`);
    return 1;
  }
}

async function runInCodeServer(runDir, workspace) {
  const resultsFile = path.join(runDir, 'results.json');
  const reportFile = path.join(runDir, 'report.txt');
  let started = Date.now();
  const server = await startCodeServer({
    env: {
      KILN_TEST_RESULTS: resultsFile,
      KILN_TEST_REPORT: reportFile,
      KILN_TEST_GREP: options.grep ?? '',
      KILN_TEST_COLOR: process.stdout.isTTY ? '1' : '0',
      KILN_HOME: process.env.KILN_HOME,
    },
  });
  let failed = true;
  addCleanup(() => server.stop({ keepFiles: failed || keep }));
  process.on('exit', () => server.kill());
  console.log(`code-server listening on ${server.url.host} after ${seconds(started)}`);

  const url = server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: repoRoot, extensionTestsPath });
  let outcome;
  try {
    started = Date.now();
    const { browser } = await openWorkbench(url, { consoleLogFile: path.join(runDir, 'browser-console.log') });
    addCleanup(() => browser.close());
    console.log(`Workbench loaded after ${seconds(started)}; waiting for the suite (up to ${deadlineMs / 1000} s)`);
    started = Date.now();
    outcome = await waitForResults({ server, browser, resultsFile, reportFile });
    console.log(`Waited ${seconds(started)} for the suite`);
  } catch (error) {
    outcome = { problem: `Could not run the suite: ${error.message}` };
  }
  failed = !outcome.results || outcome.results.failures.length > 0;
  if (outcome.problem) {
    console.error(`\n${outcome.problem}`);
  }
  if (failed) {
    printLogs(server);
  }
  if (keep) {
    console.log(`\ncode-server is still running (KILN_TEST_KEEP=1). In a browser on this machine:\n` +
      `  the workspace with Kiln from this checkout: ` +
      `${server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: repoRoot })}\n` +
      `  the same, running the suite again:          ${url}\n` +
      'Press Ctrl-C to stop it.');
    await server.exited;
    console.error('code-server exited.');
  }
  return failed ? 1 : 0;
}

/**
 * Echoes the suite's report as it is written and settles when the results file appears, or
 * when something makes that impossible: code-server or the browser gone, the extension host
 * dead, or the deadline passed.
 */
async function waitForResults({ server, browser, resultsFile, reportFile }) {
  const deadline = Date.now() + deadlineMs;
  let echoed = 0;
  const echoReport = () => {
    if (existsSync(reportFile)) {
      const report = readFileSync(reportFile);
      process.stdout.write(report.subarray(echoed));
      echoed = report.length;
    }
  };
  for (;;) {
    echoReport();
    // Read before looking for results: a host that exits right after writing them is no crash.
    const hostExit = server.extensionHostExits[0];
    if (existsSync(resultsFile)) {
      // The suite finishes its report before writing the results; echo what came in between.
      echoReport();
      return { results: JSON.parse(readFileSync(resultsFile, 'utf8')) };
    }
    if (hostExit) {
      return { problem: `The extension host (pid ${hostExit.pid}) exited before the suite finished ` +
        `(code ${hostExit.code}, signal ${hostExit.signal}).` };
    }
    if (!server.running) {
      return { problem: `code-server exited before the suite finished; see ${server.logFile}` };
    }
    if (!browser.isConnected()) {
      return { problem: 'The browser closed before the suite finished.' };
    }
    if (Date.now() > deadline) {
      return { problem: `No results after ${deadlineMs / 1000} s (KILN_TEST_TIMEOUT_S). ` +
        'A test may be waiting forever, or the suite never started: see the extension host log below.' };
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function printLogs(server) {
  console.error(`\ncode-server's log: ${server.logFile}`);
  const sessionDir = server.sessionLogDir();
  if (sessionDir) {
    console.error(`VS Code's logs (remoteagent.log, one exthost* folder per extension host): ${sessionDir}`);
  }
  for (const file of server.extensionHostLogs()) {
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    console.error(`\n--- last ${Math.min(lines.length, logTailLines)} lines of ${file}`);
    console.error(lines.slice(-logTailLines).join('\n'));
  }
}



function withDeadline(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
