// End-to-end tests: Kiln from this checkout in code-server, driven through Chromium with the
// keyboard and the mouse as a person would (test/e2e/scenarios.mjs), asserting what the
// workbench shows. A screenshot of each step goes to test-results/e2e/.
//
//   npm run test:e2e [-- --grep TEXT]
//
// Environment:
//   KILN_E2E_KEEP=1   keep the run's temp folder (workspace, logs) even when every scenario passes
//   KILN_CACHE_DIR    where code-server is installed (<repo>/.cache)
//   KILN_CHROMIUM     the Chromium to drive (/usr/bin/chromium)
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanups, parseGrep, seconds } from '../support/launcher.mjs';
import { openWorkbench, repoRoot, startCodeServer } from '../support/codeServer.mjs';
import { stopRuntime } from '../support/stopRuntime.mjs';
import { prepareWorkspace } from '../support/workspace.mjs';
import { scenarios } from './scenarios.mjs';
import { Workbench } from './workbench.mjs';

const screenshotDir = path.join(repoRoot, 'test-results/e2e');
// A fresh profile opens a walkthrough that takes the focus; the rest keeps the screen to what is tested.
const userSettings = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  // code-server offers to forward the runtime's port in a toast that would cover Kiln's.
  'remote.autoForwardPorts': false,
  // Debian's Python sees numpy, which the text-to-image example draws with.
  'kiln.python.path': '/usr/bin/python3',
};

const options = parseGrep('test:e2e');
/** Whether the run's temp folder and code-server's logs outlive it: on request, and after any failure. */
let keepFiles = process.env.KILN_E2E_KEEP === '1';

let interrupted = false;
const { add: addCleanup, cleanUp } = cleanups({ onInterrupt: () => { interrupted = true; } });

async function main() {
  if (!existsSync(path.join(repoRoot, 'dist/extension.js'))) {
    throw new Error('dist/extension.js is missing: run `npm run build` first.');
  }
  const chosen = scenarios.filter((scenario) => !options.grep || scenario.title.includes(options.grep));
  if (chosen.length === 0) throw new Error(`No scenario title contains "${options.grep}".`);
  const started = Date.now();

  const runDir = mkdtempSync(path.join(os.tmpdir(), 'kiln-e2e-'));
  addCleanup(async () => {
    if (keepFiles) console.error(`Run files (workspace, browser console, KILN_HOME): ${runDir}`);
    else rmSync(runDir, { recursive: true, force: true });
  });
  const workspace = path.join(runDir, 'workspace');
  prepareWorkspace(workspace);
  const kilnHome = path.join(runDir, 'kiln-home');
  addCleanup(() => stopRuntime(kilnHome));
  rmSync(screenshotDir, { recursive: true, force: true });
  mkdirSync(screenshotDir, { recursive: true });

  // KILN_HOME reaches the extension host, so the runtime the Deploy lens starts lives in runDir.
  const server = await startCodeServer({ env: { KILN_HOME: kilnHome } });
  addCleanup(async () => {
    await server.stop({ keepFiles });
    if (!keepFiles) return;
    console.error(`code-server's log: ${server.logFile}`);
    const sessionLogs = server.sessionLogDir();
    if (sessionLogs) console.error(`VS Code's logs (exthost*/ has Kiln's output): ${sessionLogs}`);
  });
  process.on('exit', () => server.kill());
  writeUserSettings(server.userDataDir);

  const url = server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: repoRoot });
  const { browser, page } = await openWorkbench(url, { consoleLogFile: path.join(runDir, 'browser-console.log') });
  addCleanup(() => browser.close());
  const ui = new Workbench(page);
  await ui.ready('deploy_me.py');
  console.log(`Workbench ready after ${seconds(started)}; screenshots go to ${path.relative(repoRoot, screenshotDir)}/`);

  const camera = new Camera(page);
  const failures = [];
  for (const [index, scenario] of chosen.entries()) {
    if (interrupted) break;
    const begun = Date.now();
    camera.prefix = `${index + 1}`;
    try {
      await scenario.run({ ui, shot: (name) => camera.shoot(name), kilnHome });
      console.log(`✔ ${index + 1}. ${scenario.title} (${seconds(begun)})`);
    } catch (error) {
      // Stopping closes the browser under the scenario; that is no failure of Kiln's.
      if (interrupted) break;
      const failedShot = await camera.shoot('FAILED').catch(() => camera.last);
      console.error(`✘ ${index + 1}. ${scenario.title} (${seconds(begun)})\n` +
        `${indent(error.stack ?? error.message)}\n  Last screenshot: ${failedShot ?? 'none'}`);
      failures.push(scenario.title);
      // Close whatever the failure left open (a widget, an input box) before the next scenario.
      for (let press = 0; press < 3; press++) await page.keyboard.press('Escape').catch(() => {});
    }
  }

  if (interrupted) return 130;
  console.log(`\n${chosen.length - failures.length} of ${chosen.length} scenarios passed in ${seconds(started)}`);
  return failures.length > 0 ? 1 : 0;
}

/** Screenshots named <scenario>-<n>-<what>.png, each path printed as it is taken. */
class Camera {
  prefix = '';
  last;
  count = 0;

  constructor(page) {
    this.page = page;
  }

  async shoot(name) {
    this.count++;
    const file = path.join(screenshotDir, `${this.prefix}-${String(this.count).padStart(2, '0')}-${name}.png`);
    // Finished fades: a hover or a toast caught sliding in shows as it will look.
    await this.page.screenshot({ path: file, animations: 'disabled' });
    this.last = file;
    console.log(`  screenshot ${path.relative(repoRoot, file)}`);
    return file;
  }
}

function writeUserSettings(userDataDir) {
  const settingsDir = path.join(userDataDir, 'User');
  mkdirSync(settingsDir, { recursive: true });
  writeFileSync(path.join(settingsDir, 'settings.json'), JSON.stringify(userSettings, null, 2));
}



function indent(text) {
  return text.split('\n').map((line) => `  ${line}`).join('\n');
}

let exitCode;
try {
  exitCode = await main();
} catch (error) {
  console.error(`\n${error.message}`);
  exitCode = 1;
}
if (exitCode !== 0) keepFiles = true;
await cleanUp();
process.exit(exitCode);
