// What a person does with Kiln in the editor, and what they must see. Each scenario opens the
// files it needs itself; they run in this order, since the completion edits good_app.py after
// the hover has read it and the quick fix edits bad_config.py after the Problems view has.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { escapeRegExp, plain, serverTimeoutMs, uiTimeoutMs, until } from './workbench.mjs';

/** What Kiln reports on bad_config.py, in the order the Problems view sorts it (errors first, then by line). */
const badConfigProblems = [
  { code: 'min-exceeds-max', where: '[Ln 4, Col 41]' },
  { code: 'unknown-machine-type', where: '[Ln 5, Col 20]' },
  { code: 'invalid-requirement', where: '[Ln 6, Col 37]' },
  { code: 'num-gpus-on-cpu', where: '[Ln 16, Col 16]' },
  { code: 'credential-in-env', where: '[Ln 7, Col 41]' },
];
const unknownMachineType = 'Unknown machine type "GPU-A1000". Did you mean "GPU-A100"?';

/** The Problems view's rows for `file`: the problems listed under its file row. */
function problemsOf(rows, file) {
  const start = rows.findIndex((row) => row.file === file);
  if (start < 0) return [];
  const end = rows.findIndex((row, index) => index > start && row.file);
  return rows.slice(start + 1, end < 0 ? undefined : end);
}

const brief = (problems) => problems.map(({ code, where }) => ({ code, where }));

/** Picks `label` in the tester's endpoint switcher (a vscode-single-select, whose list is in its shadow DOM). */
async function switchTesterTo(page, label) {
  const switcher = page.locator('vscode-single-select.endpoint-switcher');
  await switcher.click();
  await switcher.locator('li[role="option"]', { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) }).click();
}

export const scenarios = [
  {
    title: 'the Problems view lists Kiln\'s problems in bad_config.py with their messages and codes',
    async run({ ui, shot }) {
      await ui.openFile('bad_config.py');
      await ui.showProblems();
      const rows = await until(() => ui.problems(), (found) => problemsOf(found, 'bad_config.py').length === badConfigProblems.length, {
        timeoutMs: serverTimeoutMs,
        describe: (found) => `the Problems view did not list bad_config.py's ${badConfigProblems.length} problems; it showed ${JSON.stringify(found)}`,
      });
      const problems = problemsOf(rows, 'bad_config.py');
      await shot('problems-view');
      assert.deepEqual(rows.find((row) => row.file === 'bad_config.py'), { file: 'bad_config.py', count: badConfigProblems.length });
      assert.deepEqual(brief(problems), badConfigProblems);
      assert.ok(problems.every((problem) => problem.source === 'kiln'), `every problem should come from kiln: ${JSON.stringify(problems)}`);
      assert.equal(problems.find((problem) => problem.code === 'unknown-machine-type').message, unknownMachineType);
      assert.match(problems.find((problem) => problem.code === 'min-exceeds-max').message,
        /^min_concurrency \(5\) is greater than max_concurrency \(2\)/);
    },
  },
  {
    title: 'hovering machine_type in good_app.py shows the price per hour and the monthly floor',
    async run({ ui, shot }) {
      await ui.openFile('good_app.py');
      await ui.kilnHasRead();
      const value = ui.activeEditor().locator('.view-line span span', { hasText: 'GPU-A100' }).first();
      const text = await ui.hover(value, (shown) => /Monthly floor/.test(shown),
        (shown) => `the hover over "GPU-A100" never showed the monthly floor; it read: ${JSON.stringify(shown)}`);
      await shot('machine-type-hover');
      assert.match(text, /GPU-A100 · NVIDIA A100, 40GB VRAM/);
      assert.match(text, /per second\s+per hour/);
      assert.match(text, /1 GPU\s+\$0\.000556\s+\$2\.00/);
      assert.match(text, /Monthly floor: \$1,461 \(min_concurrency = 1: 1 runner always on, 730 h\)/);
      await ui.keyboard.press('Escape');
    },
  },
  {
    title: 'completion inside machine_type = "…" lists the machine types with prices, and accepting one changes the text',
    async run({ ui, shot }) {
      await ui.openFile('good_app.py');
      await ui.kilnHasRead();
      // Right after the opening quote, so the whole list shows rather than what matches "GPU-A100".
      await ui.goTo(11, 21);
      await ui.keyboard.press('Control+Space');
      const shown = await until(() => ui.suggestions(), (rows) => rows.some((row) => row.startsWith('GPU-T4')), {
        timeoutMs: serverTimeoutMs,
        describe: (rows) => `the suggest widget never listed GPU-T4; it showed ${JSON.stringify(rows)}`,
      });
      await shot('machine-type-completion');
      // Cheapest first, each with its cores or VRAM and its price per hour.
      assert.deepEqual(shown, [
        'XS 0.5 CPU $0.018/h', 'S 1 CPU $0.036/h', 'M 2 CPU $0.072/h', 'L 4 CPU $0.14/h', 'XL 8 CPU $0.29/h',
        'GPU-T4 16GB $0.59/h', 'GPU-A10G 24GB $1.10/h', 'GPU-A100 40GB $2.00/h', 'GPU-A100-80GB 80GB $3.00/h',
        'GPU-H100 80GB $5.00/h', 'GPU-H200 141GB $5.00/h', 'GPU-B200 180GB+ $6.25/h',
      ]);

      await ui.focusSuggestion('GPU-T4');
      await ui.keyboard.press('Enter');
      await until(() => ui.lines(), (lines) => lines.some((line) => line.includes('machine_type = "GPU-T4"')), {
        describe: (lines) => `accepting GPU-T4 did not change machine_type; the editor shows ${JSON.stringify(lines)}`,
      });
      // The server read the edit: the cost lens above the class prices the new machine type.
      await ui.activeEditor().locator('.codelens-decoration', { hasText: 'GPU-T4 · $0.59/h per runner · $430.99/month floor' })
        .waitFor({ timeout: serverTimeoutMs });
      await shot('machine-type-accepted');
      assert.ok(!(await ui.lines()).some((line) => line.includes('GPU-A100')), 'GPU-A100 should be replaced, not kept beside GPU-T4');
    },
  },
  {
    title: 'Ctrl+. on the unknown machine type offers Change to "GPU-A100", and choosing it clears the problem',
    async run({ ui, shot }) {
      await ui.openFile('bad_config.py');
      await ui.showProblems();
      await until(() => ui.problems(), (rows) => problemsOf(rows, 'bad_config.py').some((problem) => problem.code === 'unknown-machine-type'), {
        timeoutMs: serverTimeoutMs,
        describe: (rows) => `the Problems view never listed unknown-machine-type for bad_config.py; it showed ${JSON.stringify(rows)}`,
      });
      await ui.goTo(5, 24);
      await ui.keyboard.press('Control+.');
      const fix = ui.codeActions().filter({ hasText: 'Change to "GPU-A100"' });
      await fix.waitFor({ timeout: serverTimeoutMs });
      await shot('quick-fix-menu');
      // The menu blocks clicks until the mouse moves, as a person's does on the way to the entry.
      const box = await fix.boundingBox();
      await ui.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await fix.click();

      await until(() => ui.lines(), (lines) => lines.some((line) => line.includes('machine_type = "GPU-A100"')), {
        describe: (lines) => `the quick fix did not change the machine type; the editor shows ${JSON.stringify(lines)}`,
      });
      await ui.showProblems();
      const remaining = await until(() => ui.problems().then((rows) => problemsOf(rows, 'bad_config.py')),
        (problems) => !problems.some((problem) => problem.code === 'unknown-machine-type'), {
          timeoutMs: serverTimeoutMs,
          describe: (problems) => `unknown-machine-type stayed in the Problems view after the fix: ${JSON.stringify(problems)}`,
        });
      await shot('quick-fix-applied');
      assert.deepEqual(brief(remaining), badConfigProblems.filter((problem) => problem.code !== 'unknown-machine-type'));
    },
  },
  {
    title: 'the Deploy lens deploys deploy_me.py, and Invoke with Last Input asks each input and shows the response beside the code',
    async run({ ui, shot }) {
      await ui.openFile('deploy_me.py');
      await ui.codeLens('Deploy').click({ timeout: serverTimeoutMs });
      await ui.notification(/Deploying editor-hello/).waitFor({ timeout: uiTimeoutMs });
      await shot('deploy-progress');
      // The first deploy starts the runtime, then a Python worker: on a loaded machine, a while.
      await ui.notification(/editor-hello revision 1 is live at http:\/\/127\.0\.0\.1:\d+\/editor-hello/).waitFor({ timeout: 60_000 });
      await shot('deploy-live');
      assert.ok(await ui.notification(/editor-hello revision 1 is live/).locator('.monaco-button', { hasText: 'Open Tester' }).isVisible(),
        'the live notification offers the tester');

      await ui.runCommand('Kiln: Invoke with Last Input');
      assert.match(await ui.inputBoxAsking(/^name: str\b/), /^name: str \(Press 'Enter' to confirm/);
      await ui.keyboard.type('Ada');
      await ui.keyboard.press('Enter');
      assert.match(await ui.inputBoxAsking(/^times: int\b/), /^times: int \(Press 'Enter' to confirm/);
      assert.equal(await ui.quickInput.locator('input').getAttribute('placeholder'), 'Leave empty to use the default');
      await shot('invoke-input-times');
      await ui.keyboard.press('Enter');

      const response = ui.editorOf('greet.jsonc');
      const lines = await until(() => response.isVisible().then((visible) => (visible ? ui.lines(response) : [])),
        (shown) => shown.some((line) => line.includes('"message": "Hello, Ada!"')), {
          timeoutMs: uiTimeoutMs,
          describe: (shown) => `no response document showing "message": "Hello, Ada!"; it showed ${JSON.stringify(shown)}`,
        });
      await shot('invoke-response');
      assert.match(lines[0], /^\/\/ POST \/editor-hello\/greet → 200 in \d+ ms \(runner editor-hello-r1-[0-9a-f]{6}, revision 1\)$/);
      // Beside the code: the code keeps its own group, and the focus.
      assert.equal(await ui.page.locator('.editor-group-container').count(), 2, 'the response should open in a second editor group');
      assert.ok(await ui.editorOf('deploy_me.py').isVisible(), 'deploy_me.py should stay visible beside the response');
      assert.ok(await ui.page.locator('.editor-group-container.active .tab.active', { hasText: 'deploy_me.py' }).isVisible(),
        'deploy_me.py should keep the focus');
      await ui.keyboard.press('Control+K');
      await ui.keyboard.press('Control+W');
    },
  },
  {
    title: 'Kiln: Deploy App from the Command Palette deploys the App in the active editor',
    async run({ ui, shot }) {
      // The Problems view has had its turn: the editor gets the room.
      if (await ui.page.locator('.markers-panel').isVisible()) await ui.keyboard.press('Control+J');
      await ui.openFile('text_to_image.py');
      await ui.goTo(24, 1);
      await ui.kilnHasRead();
      await ui.runCommand('Kiln: Deploy App');
      await ui.notification(/Deploying text-to-image/).waitFor({ timeout: uiTimeoutMs });
      await ui.notification(/text-to-image revision 1 is live at http:\/\/127\.0\.0\.1:\d+\/text-to-image/).waitFor({ timeout: 60_000 });
      await shot('palette-deploy-live');
    },
  },
  {
    title: 'the app appears in the Kiln view with its state, endpoints and runners, and the status bar counts it',
    async run({ ui, shot }) {
      await ui.kilnView();
      const app = ui.treeRow('text-to-image');
      await app.waitFor({ timeout: uiTimeoutMs });
      await until(() => app.innerText(), (text) => /live\s+·\s+r1\s+·\s+GPU-A100\s+·\s+\$/.test(plain(text)), {
        describe: (text) => `the app's row read ${JSON.stringify(text)}`,
      });
      if ((await app.getAttribute('aria-expanded')) !== 'true') await app.click();
      await ui.treeRow('/generate').waitFor({ timeout: uiTimeoutMs });
      await ui.treeRow('Runners').waitFor({ timeout: uiTimeoutMs });
      await until(() => ui.page.locator('.pane-body .monaco-list-row', { hasText: /^text-to-image-r1-/ }).count(), (count) => count === 1, {
        describe: (count) => `the view listed ${count} runners of text-to-image`,
      });
      await ui.statusItem(/2 apps · \d runners? · \$[\d.]+ today/).waitFor({ timeout: uiTimeoutMs });
      await shot('apps-view');
    },
  },
  {
    title: 'the tester opens from the ▶ Invoke lens, builds its form from the input schema, sends, and shows the image inline',
    async run({ ui, shot }) {
      await ui.openFile('text_to_image.py');
      await ui.goTo(60, 5);
      const page = ui.webview();
      const prompt = page.locator('vscode-textfield[name="prompt"]');
      // Scrolling makes VS Code ask for the lenses again; a click on a lens it replaced meanwhile
      // does nothing (its log says "Actual command not found"), and a person clicks again.
      await until(async () => {
        await ui.codeLens('Invoke /generate').click({ timeout: serverTimeoutMs });
        return prompt.waitFor({ timeout: 5_000 }).then(() => true, () => false);
      }, (opened) => opened, { timeoutMs: serverTimeoutMs, describe: () => 'the tester did not open from the Invoke /generate lens' });
      assert.equal(await page.locator('vscode-textfield[name="steps"] input').getAttribute('placeholder'), 'default: 30');
      await prompt.locator('input').fill('a red fox');
      await page.locator('vscode-textfield[name="steps"] input').fill('6');
      await ui.clearNotifications();
      await shot('tester-form');
      await page.locator('vscode-button.send').click();
      await page.locator('.status-ok', { hasText: '200' }).waitFor({ timeout: 60_000 });
      const image = page.locator('.json-image img');
      await image.waitFor({ timeout: uiTimeoutMs });
      // Decoded, the picture is 16 + 4 x 6 pixels wide.
      await until(() => image.evaluate((element) => element.naturalWidth), (width) => width === 40, {
        describe: (width) => `the picture is ${width} pixels wide, not 16 + 4 x 6 = 40`,
      });
      assert.match(await page.locator('.timing').innerText(), /total \d/);
      assert.match(await page.locator('.timing').innerText(), /execution \d/);
      assert.match(await page.locator('.cost').innerText(), /^≈ \$0\.0/);
      await shot('tester-response');

      // The same through fal's queue API: the request is queued, runs, and answers the same way.
      await page.locator('vscode-radio.mode-queue').click();
      await page.locator('vscode-button.send').click();
      await page.locator('.response-meta', { hasText: /^queue · .*request [\w-]+$/ }).waitFor({ timeout: 60_000 });
      await page.locator('.json-image img').waitFor({ timeout: uiTimeoutMs });

      // Another endpoint, from the Kiln view: the same tab shows it, and a queued request shows the
      // lines the app printed for it.
      await ui.kilnView();
      const app = ui.treeRow('editor-hello');
      if ((await app.getAttribute('aria-expanded')) !== 'true') await app.click();
      await ui.treeRow('/greet').click();
      await page.locator('vscode-textfield[name="name"]').waitFor({ timeout: uiTimeoutMs });
      assert.equal(await ui.page.locator('.tab', { hasText: /^Test / }).count(), 1, 'one tester tab, reused');
      await page.locator('vscode-textfield[name="name"] input').fill('Queue');
      await page.locator('vscode-button.send').click();
      await page.locator('.queue-log', { hasText: 'greeting Queue' }).waitFor({ timeout: 60_000 });
      await page.locator('.json-string', { hasText: '"Hello, Queue!"' }).waitFor({ timeout: uiTimeoutMs });
      await shot('tester-queued-logs');
      await page.locator('vscode-radio.mode-sync').click();
      // Back to text-to-image, whose drafts the tester kept.
      await ui.treeRow('/generate').click();
      await page.locator('vscode-textfield[name="prompt"] input').waitFor({ timeout: uiTimeoutMs });
      assert.equal(await page.locator('vscode-textfield[name="prompt"] input').inputValue(), 'a red fox');
    },
  },
  {
    title: 'switching the tester to another endpoint while a request waits stops that request: its answer never shows under another endpoint',
    async run({ ui, shot }) {
      await ui.openFile('slow_app.py');
      await ui.kilnHasRead();
      await ui.codeLens('Invoke /').click({ timeout: serverTimeoutMs });
      // Not deployed yet: the lens offers to deploy it first.
      await ui.notification(/slow-app is not deployed yet/).locator('.monaco-button', { hasText: 'Deploy and Open Tester' }).click({ timeout: uiTimeoutMs });
      const page = ui.webview();
      const seconds = page.locator('vscode-textfield[name="seconds"] input');
      await seconds.waitFor({ timeout: 60_000 });
      await seconds.fill('60');
      await page.locator('vscode-button.send').click();
      await page.locator('div.progress', { hasText: 'Waiting for the answer' }).waitFor({ timeout: uiTimeoutMs });

      await ui.kilnView();
      // The view shows slow-app's runner busy with the request (and is done redrawing for it: a
      // row clicked while the view redraws loses its click, in VS Code's trees).
      const slow = ui.treeRow('slow-app');
      if ((await slow.getAttribute('aria-expanded')) !== 'true') await slow.click();
      await until(() => ui.page.locator('.pane-body .monaco-list-row', { hasText: /^slow-app-r1-/ }).innerText(), (text) => /busy/.test(plain(text)), {
        describe: (text) => `slow-app's runner row read ${JSON.stringify(text)}`,
      });
      const hello = ui.treeRow('editor-hello');
      if ((await hello.getAttribute('aria-expanded')) !== 'true') await hello.click();
      await ui.treeRow('/greet').click();
      await page.locator('vscode-textfield[name="name"]').waitFor({ timeout: uiTimeoutMs });
      await page.locator('div.progress').waitFor({ state: 'hidden', timeout: uiTimeoutMs });
      assert.equal(await page.locator('vscode-button.send').getAttribute('disabled'), null, '/greet can be sent at once');
      assert.doesNotMatch(await page.locator('.response').innerText(), /slept|Cancelled/, 'nothing of slow-app shows under /greet');
      await ui.clearNotifications();
      await shot('tester-switched-while-waiting');

      // Back on slow-app, through the tester's own endpoint switcher: the request was stopped, so
      // it has no answer to show.
      await switchTesterTo(page, 'slow-app/');
      await seconds.waitFor({ timeout: uiTimeoutMs });
      assert.ok(await page.locator('div.progress').isHidden(), 'slow-app waits for nothing');
      assert.equal(await page.locator('.response').innerText(), '', 'the stopped request left no answer');
      // The next scenario finds the tester on text-to-image.
      await switchTesterTo(page, 'text-to-image/generate');
      await page.locator('vscode-textfield[name="prompt"]').waitFor({ timeout: uiTimeoutMs });
    },
  },
  {
    title: 'the log tail shows the app\'s print output and keeps going across a runtime restart',
    async run({ ui, shot, kilnHome }) {
      // The log opens in the first editor group, where the code is, not beside it with the tester.
      await ui.keyboard.press('Control+1');
      await ui.kilnView();
      const app = ui.treeRow('text-to-image');
      await app.hover();
      await app.locator('.action-label[aria-label="Tail Logs"]').click();
      const log = ui.editorOf('text-to-image.log');
      await until(() => log.isVisible().then((visible) => (visible ? ui.lines(log) : [])), (lines) => lines.some((line) => /stdout +TextToImage model ready on/.test(line)), {
        describe: (lines) => `the log tail showed ${JSON.stringify(lines)}`,
      });
      await ui.statusItem(/Tailing text-to-image/).waitFor({ timeout: uiTimeoutMs });
      await shot('log-tail');

      // The runtime dies: the status bar says so, and offers to start it again.
      const { pid } = JSON.parse(readFileSync(path.join(kilnHome, 'runtime.json'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      await ui.statusItem(/Kiln: no runtime/).waitFor({ timeout: uiTimeoutMs });
      await ui.statusItem(/Tailing text-to-image: waiting for the runtime/).waitFor({ timeout: uiTimeoutMs });
      await shot('runtime-down');
      await ui.statusItem(/Kiln: no runtime/).click();
      await ui.statusItem(/\d apps? · \d runners? ·/).waitFor({ timeout: 60_000 });
      await ui.statusItem(/Tailing text-to-image$/).waitFor({ timeout: uiTimeoutMs });
      // A request after the restart cold-starts a runner, whose setup() prints again.
      await ui.page.locator('.tab', { hasText: 'Test text-to-image/generate' }).click();
      await ui.webview().locator('vscode-button.send').click();
      await ui.webview().locator('.status-ok', { hasText: '200' }).waitFor({ timeout: 60_000 });
      await ui.page.locator('.tab', { hasText: 'text-to-image.log' }).click();
      const lines = await until(() => ui.lines(log), (shown) => shown.filter((line) => /TextToImage model ready on/.test(line)).length === 2, {
        timeoutMs: 60_000,
        describe: (shown) => `the tail did not show the new runner's setup after the restart: ${JSON.stringify(shown)}`,
      });
      // The log's group takes the width (the tester shares it otherwise), so the lines read whole.
      await ui.runCommand('View: Toggle Maximize Editor Group');
      await shot('log-tail-after-restart');
      await ui.runCommand('View: Toggle Maximize Editor Group');
      const runners = lines.filter((line) => /TextToImage model ready on/.test(line)).map((line) => /(text-to-image-r1-\w{6})/.exec(line)?.[1]);
      assert.equal(new Set(runners).size, 2, `one setup line per runner, none repeated: ${JSON.stringify(lines)}`);

      // No tab shows the log any more: the tail ends.
      await ui.page.locator('.tab', { hasText: 'text-to-image.log' }).locator('.codicon-close').click();
      await ui.statusItem(/Tailing text-to-image/).waitFor({ state: 'detached', timeout: uiTimeoutMs });
    },
  },
  {
    title: 'Run with Hot Reload deploys a dev copy and redeploys it on save',
    async run({ ui, shot }) {
      await ui.openFile('deploy_me.py');
      await ui.kilnHasRead();
      await ui.runCommand('Kiln: Run with Hot Reload');
      await ui.statusItem(/editor-hello-dev r1: live in \d+ ms/).waitFor({ timeout: 60_000 });
      await ui.keyboard.press('Control+Home');
      await ui.keyboard.type('# edited while hot reload runs\n');
      await ui.keyboard.press('Control+S');
      await ui.statusItem(/editor-hello-dev r2: live in \d+ ms/).waitFor({ timeout: 60_000 });
      await shot('hot-reload-redeployed');
      // Take the line out again: the file is as it was, and that too is a save to deploy.
      await ui.keyboard.press('Control+Home');
      await ui.keyboard.press('Control+Shift+K');
      await ui.keyboard.press('Control+S');
      await ui.statusItem(/editor-hello-dev r3: live in \d+ ms/).waitFor({ timeout: 60_000 });
      await ui.statusItem(/editor-hello-dev r3/).click();
      await ui.statusItem(/editor-hello-dev/).waitFor({ state: 'detached', timeout: uiTimeoutMs });
      await ui.kilnView();
      await ui.treeRow('editor-hello-dev').waitFor({ state: 'detached', timeout: uiTimeoutMs });
    },
  },
  {
    title: 'the usage dashboard charts requests, latency, runners and cost per app',
    async run({ ui, shot }) {
      // One webview on screen: the tester beside it would make two.
      await ui.runCommand('View: Close All Editors');
      await ui.runCommand('Kiln: Open Usage Dashboard');
      const page = ui.webview();
      await page.locator('.card-title', { hasText: 'text-to-image' }).waitFor({ timeout: uiTimeoutMs });
      assert.equal(await page.locator('.chart canvas').count(), 4, 'four charts');
      await ui.clearNotifications();
      await shot('usage-dashboard');
      await ui.keyboard.press('Control+W');
    },
  },
  {
    title: 'Delete App… from the view\'s context menu asks, then removes the app',
    async run({ ui, shot }) {
      await ui.kilnView();
      const app = ui.treeRow('text-to-image');
      await app.click({ button: 'right' });
      // The menu takes clicks once the mouse has moved, as a person's does on the way to the entry.
      const item = ui.contextMenuItem('Delete App…');
      const box = await item.boundingBox();
      await ui.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 4 });
      await item.click();
      await ui.dialogButton('Delete').waitFor({ timeout: uiTimeoutMs });
      await shot('delete-confirm');
      await ui.dialogButton('Delete').click();
      await app.waitFor({ state: 'detached', timeout: uiTimeoutMs });
      await shot('deleted');
    },
  },
  {
    title: 'the walkthrough\'s buttons lead from a new app to its first response, with no code editor active',
    async run({ ui, shot }) {
      await ui.runCommand('Welcome: Open Walkthrough...');
      await ui.quickInput.locator('.monaco-list-row', { hasText: 'Get started with Kiln' }).click();
      const page = ui.page.locator('.gettingStartedContainer');
      const step = (title) => page.locator('.getting-started-step', { has: ui.page.locator('.step-title', { hasText: title }) });
      for (const title of ['Create an app', 'Deploy it', 'Call it', 'Watch its logs', 'Reload on save', 'Watch what it costs']) {
        await step(title).waitFor({ timeout: uiTimeoutMs });
      }
      // Without the side bar the walkthrough has the width to show each step's page beside it.
      await ui.keyboard.press('Control+B');
      // Each step's page beside it (a webview of its markdown).
      await ui.page.locator('.getting-started-media iframe.webview.ready').contentFrame().locator('#active-frame').contentFrame()
        .locator('h1', { hasText: 'Create an app' }).waitFor({ timeout: uiTimeoutMs });
      await shot('walkthrough');

      await step('Create an app').getByRole('button', { name: 'New App…' }).click();
      await ui.quickInput.locator('.monaco-list-row', { hasText: 'The smallest app' }).click();
      // hello.py is taken: the new app gets a name of its own, and the editor.
      await ui.page.locator('.tab.active', { hasText: 'hello_2.py' }).waitFor({ timeout: uiTimeoutMs });

      // Back to the walkthrough: the file is open, but no code editor is active.
      await ui.page.locator('.tab', { hasText: 'Walkthrough: Kiln' }).click();
      await step('Deploy it').locator('.step-title').click();
      await step('Deploy it').getByRole('button', { name: 'Deploy App' }).click();
      await ui.notification(/hello revision 1 is live at http:\/\/127\.0\.0\.1:\d+\/hello/).waitFor({ timeout: 60_000 });
      await ui.clearNotifications();

      await step('Call it').locator('.step-title').click();
      await step('Call it').getByRole('button', { name: 'Open Endpoint Tester' }).click();
      const tester = ui.webview();
      await tester.locator('vscode-textfield[name="name"]').waitFor({ timeout: uiTimeoutMs });
      await tester.locator('vscode-button.send').click();
      await tester.locator('.json-string', { hasText: '"Hello, world!"' }).waitFor({ timeout: 60_000 });
      await shot('walkthrough-first-response');
      await ui.keyboard.press('Control+B');
    },
  },
];
