/**
 * "Invoke with Last Input", the quick path beside the tester: the endpoint is called again with
 * the input last sent to it (from the tester or from here), or, the first time, with each input
 * asked in an input box typed by the parameter's hint. The response shows in a read-only document
 * beside the code (reused, focus kept).
 */
import * as vscode from 'vscode';
import { formatDetail } from '../client';
import { INVOKE_HEADERS } from '../shared/api';
import type { EndpointTarget } from '../shared/protocol';
import type { KilnContext } from './ctx';
import { deployedEndpoint } from './deploy';
import { TesterHistory } from './testerRequests';

export const RESPONSE_SCHEME = 'kiln-response';

/** Holds the last response of each endpoint, shown as `kiln-response:/app/path.jsonc`. */
export class ResponseDocuments implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  async show(app: string, path: string, text: string): Promise<vscode.TextDocument> {
    const uri = vscode.Uri.from({ scheme: RESPONSE_SCHEME, path: `/${app}${path === '/' ? '' : path}.jsonc` });
    this.texts.set(uri.toString(), text);
    const updated = this.updated(uri, text);
    this.changed.fire(uri);
    await updated;
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.languages.setTextDocumentLanguage(document, 'jsonc');
    await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true, preview: true });
    return document;
  }

  /**
   * Settles once an open document at `uri` reads `text`. VS Code asks for new content after a
   * change event, later; until then openTextDocument gives the open document with the last response.
   */
  private updated(uri: vscode.Uri, text: string): Promise<void> {
    const open = vscode.workspace.textDocuments.find((document) => document.uri.toString() === uri.toString());
    if (!open || open.getText() === text) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        listener.dispose();
        clearTimeout(timer);
        resolve();
      };
      const listener = vscode.workspace.onDidChangeTextDocument(({ document }) => {
        if (document.uri.toString() === uri.toString() && document.getText() === text) done();
      });
      // A document VS Code closed meanwhile is read afresh by openTextDocument.
      const timer = setTimeout(done, 5_000);
    });
  }

  dispose(): void {
    this.changed.dispose();
  }
}

const PRIMITIVES: Record<string, (text: string) => unknown> = {
  str: (text) => text,
  int: (text) => {
    if (!/^[-+]?\d+$/.test(text.trim())) throw new Error('a whole number, such as 30');
    return Number(text);
  },
  float: (text) => {
    const value = Number(text);
    if (text.trim() === '' || Number.isNaN(value)) throw new Error('a number, such as 0.5');
    return value;
  },
  bool: (text) => {
    const lower = text.trim().toLowerCase();
    if (lower !== 'true' && lower !== 'false') throw new Error('true or false');
    return lower === 'true';
  },
};

/** Reads what the user typed as the parameter's type: primitives directly, anything else as JSON. */
export function parseInput(text: string, annotation: string | null): unknown {
  const bare = (annotation ?? 'str').replace(/^Optional\[(.*)\]$/, '$1').replace(/\s*\|\s*None$/, '').trim();
  const primitive = PRIMITIVES[bare];
  if (primitive) return primitive(text);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`JSON for ${annotation ?? 'the value'}, such as ["a", "b"] or {"key": 1}`);
  }
}

const TYPING_NAMES = /^(List|Dict|Tuple|Set|Optional|Union|Literal|Any)\b/;

/** One parameter typed by a class (a pydantic model) is the whole request body, as in fal. */
function isModelBody(target: EndpointTarget): boolean {
  const [only] = target.parameters;
  return target.parameters.length === 1 && only!.annotation !== null && /^[A-Z]\w*$/.test(only!.annotation) && !TYPING_NAMES.test(only!.annotation);
}

async function askInputs(target: EndpointTarget): Promise<Record<string, unknown> | undefined> {
  if (isModelBody(target)) return askBody(`Invoke ${target.appName}${target.path}`, `The request body: a JSON object for ${target.parameters[0]!.annotation}`);
  const input: Record<string, unknown> = {};
  for (const [index, parameter] of target.parameters.entries()) {
    const text = await vscode.window.showInputBox({
      title: `Invoke ${target.appName}${target.path} (${index + 1}/${target.parameters.length})`,
      prompt: `${parameter.name}${parameter.annotation ? `: ${parameter.annotation}` : ''}`,
      placeHolder: parameter.hasDefault ? 'Leave empty to use the default' : undefined,
      ignoreFocusOut: true,
      validateInput: (value) => {
        if (value === '' && parameter.hasDefault) return undefined;
        try {
          parseInput(value, parameter.annotation);
          return undefined;
        } catch (error) {
          return `Enter ${(error as Error).message}`;
        }
      },
    });
    if (text === undefined) return undefined;
    if (text === '' && parameter.hasDefault) continue;
    input[parameter.name] = parseInput(text, parameter.annotation);
  }
  return input;
}

/**
 * One input box for a whole JSON body: for a pydantic model, or an endpoint named from the apps
 * view, whose parameters the editor has not read.
 */
async function askBody(title: string, prompt: string): Promise<Record<string, unknown> | undefined> {
  const text = await vscode.window.showInputBox({
    title,
    prompt,
    value: '{}',
    ignoreFocusOut: true,
    validateInput: (value) => {
      try {
        const parsed = JSON.parse(value) as unknown;
        return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? undefined : 'Enter a JSON object';
      } catch {
        return 'Enter a JSON object, such as {"prompt": "a fox"}';
      }
    },
  });
  return text === undefined ? undefined : JSON.parse(text) as Record<string, unknown>;
}

export function registerInvoke(ctx: KilnContext): void {
  const responses = new ResponseDocuments();
  const history = new TesterHistory(ctx.memento);
  ctx.subscribe(responses, vscode.workspace.registerTextDocumentContentProvider(RESPONSE_SCHEME, responses));
  ctx.registerCommand('kiln.invokeWithLastInput', async (argument?: unknown, givenInput?: Record<string, unknown>) => {
    const called = await deployedEndpoint(ctx, argument, 'Deploy and Invoke');
    if (!called) return undefined;
    const { app, endpoint } = called;
    const input = givenInput ?? history.lastInput(app, endpoint.path)
      ?? await ('parameters' in endpoint ? askInputs(endpoint) : askBody(`Invoke ${app}${endpoint.path}`, 'The request body, as a JSON object'));
    if (input === undefined) return undefined;
    const response = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Invoking ${app}${endpoint.path}` },
      () => ctx.connection.run((client) => client.invoke(app, endpoint.path, input)),
    );
    history.add(app, endpoint.path, { input, mode: 'sync', time: new Date().toISOString(), status: response.status, totalMs: response.durationMs });
    const runner = response.headers[INVOKE_HEADERS.runner];
    const summary = `// POST /${app}${endpoint.path === '/' ? '' : endpoint.path} → ${response.status} in ${Math.round(response.durationMs)} ms`
      + `${runner ? ` (runner ${runner}, revision ${response.headers[INVOKE_HEADERS.revision]})` : ''}`;
    ctx.output.info(`${summary.slice(3)}`);
    if (response.status >= 400) ctx.output.warn(`  ${formatDetail((response.body as { detail?: unknown } | null)?.detail ?? response.body)}`);
    return responses.show(app, endpoint.path, `${summary}\n// input: ${JSON.stringify(input)}\n${JSON.stringify(response.body, null, 2)}\n`);
  });
}
