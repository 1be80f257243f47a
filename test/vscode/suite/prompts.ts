/**
 * The person at the keyboard, for commands that ask: each input box, quick pick and
 * confirmation answered from a script, in order, and every notification recorded. This is the
 * one boundary the suite stands in for; the commands, the extension and the runtime are real
 * (the Playwright suite in test/e2e types the same answers into the real widgets).
 *
 * The extension and this suite share one `vscode` API object (the suite lives inside the
 * extension's folder), so replacing its window functions here is what the extension calls.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

export type Answer =
  /** An input box: the text typed, or undefined for Escape. The box's validation must accept it. */
  | { input: string | undefined }
  /** A quick pick: the item whose label contains this text (or the string item equal to it). */
  | { pick: string | undefined }
  /** A modal dialog, or the next notification: the button pressed. */
  | { button: string | undefined };

export interface Asked {
  kind: 'input' | 'pick' | 'message';
  title: string;
  /** An input box's validation message for the answer, when it refused it. */
  refused?: string;
}

export interface Script {
  /** What the commands asked, in order. */
  asked: Asked[];
  /** Information, warning and error messages shown (buttons or not), in order. */
  messages: { level: 'info' | 'warning' | 'error'; text: string }[];
  /** Puts the real window functions back. */
  restore(): void;
  /** Answers not used yet. */
  left(): Answer[];
}

type Window = typeof vscode.window;
const window = vscode.window as { -readonly [K in keyof Window]: Window[K] };

/** Answers the next prompts from `answers`; fails the test on a prompt it did not expect. */
export function answer(answers: Answer[]): Script {
  const queue = [...answers];
  const script: Script = { asked: [], messages: [], restore: () => undefined, left: () => queue };
  const original = {
    showInputBox: window.showInputBox,
    showQuickPick: window.showQuickPick,
    showInformationMessage: window.showInformationMessage,
    showWarningMessage: window.showWarningMessage,
    showErrorMessage: window.showErrorMessage,
  };
  const next = (kind: Asked['kind'], title: string, key: string): Answer => {
    const given = queue.shift();
    assert.ok(given && key in given, `the command asked (${kind}) "${title}", which the test did not expect; answers left: ${JSON.stringify([given, ...queue])}`);
    return given;
  };

  window.showInputBox = (async (options?: vscode.InputBoxOptions) => {
    const title = options?.title ?? options?.prompt ?? '';
    const { input } = next('input', title, 'input') as { input: string | undefined };
    const asked: Asked = { kind: 'input', title };
    script.asked.push(asked);
    if (input === undefined) return undefined;
    const refused = await options?.validateInput?.(input);
    if (refused) {
      asked.refused = typeof refused === 'string' ? refused : refused.message;
      return undefined;
    }
    return input;
  }) as Window['showInputBox'];

  window.showQuickPick = (async (items: readonly (string | vscode.QuickPickItem)[] | Thenable<readonly (string | vscode.QuickPickItem)[]>, options?: vscode.QuickPickOptions) => {
    const title = options?.title ?? options?.placeHolder ?? '';
    const { pick } = next('pick', title, 'pick') as { pick: string | undefined };
    script.asked.push({ kind: 'pick', title });
    if (pick === undefined) return undefined;
    const list = await items;
    const found = list.find((item) => (typeof item === 'string' ? item === pick : item.label.includes(pick)));
    assert.ok(found, `no item "${pick}" in the quick pick "${title}": ${JSON.stringify(list.map((item) => (typeof item === 'string' ? item : item.label)))}`);
    return found;
  }) as Window['showQuickPick'];

  const message = (level: 'info' | 'warning' | 'error') => (async (text: string, ...rest: unknown[]) => {
    script.messages.push({ level, text });
    const modal = typeof rest[0] === 'object' && rest[0] !== null && (rest[0] as vscode.MessageOptions).modal === true;
    // A modal dialog waits for its answer; a toast is answered only when the test's next answer
    // is a button (else it stays unanswered, as toasts mostly do).
    if (!modal && !(queue[0] && 'button' in queue[0])) return undefined;
    const { button } = next('message', text, 'button') as { button: string | undefined };
    script.asked.push({ kind: 'message', title: text });
    return button;
  }) as never;
  window.showInformationMessage = message('info');
  window.showWarningMessage = message('warning');
  window.showErrorMessage = message('error');

  script.restore = () => { Object.assign(window, original); };
  return script;
}

/** Runs `body` with the prompts answered, restoring the real window afterwards. */
export async function withAnswers<T>(answers: Answer[], body: (script: Script) => PromiseLike<T>): Promise<{ result: T; script: Script }> {
  const script = answer(answers);
  try {
    const result = await body(script);
    assert.deepEqual(script.left(), [], 'the command did not ask everything the test answered');
    return { result, script };
  } finally {
    script.restore();
  }
}
