// The VS Code workbench as a person uses it: keys and clicks in, what the screen shows out.
// Everything here goes through the rendered UI (Ctrl+P, Ctrl+G, the Problems view, widgets);
// nothing calls VS Code's API. Selectors are the workbench's own CSS classes.

/** How long the workbench may take to show what a key press or a click asks for, on a 2-core machine. */
export const uiTimeoutMs = 20_000;
/** How long Kiln's language server may take to answer (diagnostics, hovers, lenses) after an open or an edit. */
export const serverTimeoutMs = 30_000;

/**
 * Reads `probe` until `accept` takes its answer and returns that answer; after `timeoutMs` fails
 * with `describe(last answer)`, so the failure says what the screen showed instead.
 */
export async function until(probe, accept, { timeoutMs = uiTimeoutMs, describe }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(describe(value));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Text as the workbench renders it, with its non-breaking spaces read as spaces. */
export const plain = (text) => text.replace(/\u00a0/g, ' ');

export class Workbench {
  /** @param {import('playwright-core').Page} page */
  constructor(page) {
    this.page = page;
    this.keyboard = page.keyboard;
    this.quickInput = page.locator('.quick-input-widget');
  }

  /** Waits until the Explorer lists the workspace's files: the remote side is connected. */
  async ready(someFile) {
    await this.page.locator('.explorer-folders-view .monaco-list-row', { hasText: someFile })
      .waitFor({ timeout: uiTimeoutMs });
  }

  /** Ctrl+P, the file's name, Enter; waits for its editor to be the active one. */
  async openFile(name) {
    await this.keyboard.press('Control+P');
    await this.quickInput.locator('input').waitFor({ timeout: uiTimeoutMs });
    await this.keyboard.type(name);
    // Enter takes the focused row; wait until file search has put the file there.
    await this.quickInput.locator('.monaco-list-row.focused', { hasText: name }).waitFor({ timeout: uiTimeoutMs });
    await this.keyboard.press('Enter');
    await this.page.locator('.editor-group-container.active .tab.active', { hasText: name }).waitFor({ timeout: uiTimeoutMs });
    await this.activeEditor().locator('.view-lines').waitFor({ timeout: uiTimeoutMs });
  }

  /** The code editor of the active editor group. */
  activeEditor() {
    return this.page.locator('.editor-group-container.active .monaco-editor').first();
  }

  /** The editor showing `tabName` in whichever group holds it. */
  editorOf(tabName) {
    return this.page.locator('.editor-group-container', {
      has: this.page.locator('.tab.active', { hasText: tabName }),
    }).locator('.monaco-editor').first();
  }

  /** The editor's visible lines, top to bottom, as they read on screen. */
  async lines(editor = this.activeEditor()) {
    return editor.locator('.view-lines .view-line').evaluateAll((elements) => elements
      .map((element) => ({ top: parseFloat(element.style.top), text: element.textContent ?? '' }))
      .sort((a, b) => a.top - b.top)
      .map(({ text }) => text.replace(/\u00a0/g, ' ')));
  }

  /**
   * Waits for the Deploy lens above an App in the active editor: Kiln's language server has read
   * the file, so what a hover or a key asks of it now gets an answer.
   */
  async kilnHasRead() {
    await this.codeLens('Deploy').first().waitFor({ timeout: serverTimeoutMs });
  }

  /** Ctrl+G `line:column` (1-based, as the status bar counts); waits for the status bar to agree. */
  async goTo(line, column) {
    await this.keyboard.press('Control+G');
    await this.quickInput.locator('input').waitFor({ timeout: uiTimeoutMs });
    await this.keyboard.type(`${line}:${column}`);
    await this.keyboard.press('Enter');
    await this.page.locator('.statusbar-item', { hasText: new RegExp(`^Ln ${line}, Col ${column}$`) })
      .waitFor({ timeout: uiTimeoutMs });
    await this.quickInput.waitFor({ state: 'hidden', timeout: uiTimeoutMs });
  }

  /** Ctrl+Shift+M when the Problems view is not showing (the key toggles it). */
  async showProblems() {
    const view = this.page.locator('.markers-panel');
    if (!(await view.isVisible())) await this.keyboard.press('Control+Shift+M');
    await view.waitFor({ timeout: uiTimeoutMs });
  }

  /**
   * The Problems view's rows: a file row reads { file, count }, a problem row { message, source,
   * code, where } as the view lays them out ("message  source(code)  [Ln 5, Col 20]").
   */
  async problems() {
    const rows = await this.page.locator('.markers-panel .monaco-list-row').evaluateAll((elements) => elements
      .map((element) => ({ top: parseFloat(element.style.top), text: element.innerText }))
      .sort((a, b) => a.top - b.top)
      .map(({ text }) => text));
    return rows.map((text) => {
      const parts = plain(text).split('\n').map((part) => part.trim()).filter(Boolean);
      if (parts.length === 2) return { file: parts[0], count: Number(parts[1]) };
      const [message, source, code, where] = parts;
      return { message, source, code, where };
    });
  }

  /** Moves the mouse onto `target` and returns the hover widget's text once it reads as `accept` wants. */
  async hover(target, accept, describe) {
    await target.hover();
    const widget = this.page.locator('.monaco-hover').filter({ visible: true }).first();
    await widget.waitFor({ timeout: serverTimeoutMs });
    return until(async () => plain(await widget.innerText()), accept, { timeoutMs: serverTimeoutMs, describe });
  }

  /** The suggest widget's rows as shown (label, detail, price), once it is open. */
  async suggestions() {
    const widget = this.page.locator('.suggest-widget.visible');
    await widget.waitFor({ timeout: serverTimeoutMs });
    return widget.locator('.monaco-list-row').evaluateAll((elements) => elements
      .map((element) => ({ top: parseFloat(element.style.top), text: element.innerText }))
      .sort((a, b) => a.top - b.top)
      .map(({ text }) => text.replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim()));
  }

  /** Presses ArrowDown in the open suggest widget until the focused suggestion's label is `label`. */
  async focusSuggestion(label) {
    const focused = this.page.locator('.suggest-widget.visible .monaco-list-row.focused .monaco-icon-name-container');
    const labels = [await focused.innerText()];
    while (labels.at(-1) !== label) {
      if (labels.length > 20) throw new Error(`ArrowDown never reached ${label} in the suggest widget; it went through ${labels.join(', ')}`);
      await this.keyboard.press('ArrowDown');
      labels.push(await until(() => focused.innerText(), (shown) => shown !== labels.at(-1), {
        describe: () => `ArrowDown did not move the suggest widget's focus from ${labels.at(-1)}`,
      }));
    }
  }

  /** The rows of the Quick Fix (code action) menu, once it is open. */
  codeActions() {
    return this.page.locator('.action-widget .monaco-list-row.action');
  }

  /** The CodeLens link whose text is `title` (icons aside) in `editor`. */
  codeLens(title, editor = this.activeEditor()) {
    return editor.locator('.codelens-decoration a', { hasText: new RegExp(`^\\s*${escapeRegExp(title)}\\s*$`) });
  }

  /** The notification toast whose text matches `pattern`, once it has slid in. */
  notification(pattern) {
    return this.page.locator('.notifications-toasts .notification-toast.notification-fade-in-done', { hasText: pattern });
  }

  /** F1, the command's title, Enter: runs a command from the Command Palette as a person does. */
  async runCommand(title) {
    await this.keyboard.press('F1');
    await this.quickInput.locator('input').waitFor({ timeout: uiTimeoutMs });
    await this.keyboard.type(title);
    await this.quickInput.locator('.monaco-list-row.focused', { hasText: title }).waitFor({ timeout: uiTimeoutMs });
    await this.keyboard.press('Enter');
  }

  /** Clicks the Kiln icon in the activity bar (unless its view shows) and returns the view's tree. */
  async kilnView() {
    const view = this.page.locator('.pane', { has: this.page.locator('.pane-header', { hasText: /^\s*Apps/ }) });
    if (!(await view.locator('.monaco-list').isVisible().catch(() => false))) {
      await this.page.locator('.activitybar .action-item a[aria-label^="Kiln"]').click();
    }
    await view.locator('.pane-body').waitFor({ timeout: uiTimeoutMs });
    return view;
  }

  /** The Kiln view's row whose label is `label` (its description aside). */
  treeRow(label) {
    return this.page.locator('.pane-body .monaco-list-row', { has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) });
  }

  /** Closes every notification toast, so a screenshot shows what is under them. */
  async clearNotifications() {
    await this.runCommand('Notifications: Clear All Notifications');
    await this.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'detached', timeout: uiTimeoutMs }).catch(() => {});
  }

  /** The status bar item whose text matches `pattern`. */
  statusItem(pattern) {
    return this.page.locator('.statusbar-item', { hasText: pattern });
  }

  /**
   * The page of Kiln's webview that shows now (the tester, the dashboard), not another's beside
   * it (the walkthrough's): VS Code nests it in two frames.
   */
  webview() {
    return this.page.locator('iframe.webview.ready[src*="extensionId=kiln-dev.kiln"]').filter({ visible: true })
      .contentFrame().locator('#active-frame').contentFrame();
  }

  /** The entry `title` of the context menu open now. */
  contextMenuItem(title) {
    return this.page.locator('.context-view .action-item', { hasText: new RegExp(`^${escapeRegExp(title)}`) });
  }

  /** The button `title` of the modal dialog open now. */
  dialogButton(title) {
    return this.page.locator('.monaco-dialog-box .monaco-button', { hasText: new RegExp(`^${escapeRegExp(title)}$`) });
  }

  /** The input box's prompt, once an input box shows one matching `pattern`. */
  async inputBoxAsking(pattern) {
    const prompt = this.quickInput.locator('.quick-input-message', { hasText: pattern });
    await prompt.waitFor({ timeout: uiTimeoutMs });
    return plain(await prompt.innerText());
  }
}

export function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
