/**
 * Live log tails in read-only editors, as AWS Toolkit's live tail does it: records stream into a
 * `kiln-log:` document (coloured by the kiln-log grammar), capped at `kiln.logs.maxLines`, and an
 * editor scrolls along only while its end is in view. One stream per app, however many tabs show
 * it (a tab per filter: a runner, or a text), and it ends when no tab shows the app any more. The
 * stream resumes after a runtime restart from the last record it showed (src/client/follow.ts).
 */
import * as vscode from 'vscode';
import { type FollowState, followLogsAcrossRestarts, formatClock, formatLogRecord, NO_COLOURS, runnerColumnWidth } from '../client';
import type { LogRecord } from '../shared/api';
import { logMaxLines } from './config';
import type { KilnContext } from './ctx';
import { isViewNode, resolveDeployedApp } from './targets';

export const LOG_SCHEME = 'kiln-log';
const LOG_LANGUAGE = 'kiln-log';
/** Records shown when a tail starts: the recent past, then what comes. */
const BACKLOG = 200;
/** Lines wait this long so a burst becomes one edit. */
const BATCH_MS = 60;

export interface LogFilter {
  runner?: string;
  search?: string;
}

/** kiln-log:/hello.log, kiln-log:/hello (runner hello-r1-abc123).log?runner=…: the tab's title says the filter. */
function logUri(app: string, filter: LogFilter = {}): vscode.Uri {
  const parts = [filter.runner && `runner ${filter.runner}`, filter.search && `“${filter.search}”`].filter(Boolean);
  const query = new URLSearchParams();
  if (filter.runner) query.set('runner', filter.runner);
  if (filter.search) query.set('search', filter.search);
  return vscode.Uri.from({ scheme: LOG_SCHEME, path: `/${app}${parts.length ? ` (${parts.join(', ')})` : ''}.log`, query: query.toString() });
}

function parseLogUri(uri: vscode.Uri): { app: string; filter: LogFilter } {
  const app = /^\/([a-z0-9-]+)/.exec(uri.path)?.[1] ?? '';
  const query = new URLSearchParams(uri.query);
  return { app, filter: { runner: query.get('runner') ?? undefined, search: query.get('search') ?? undefined } };
}

function matches(record: LogRecord, filter: LogFilter): boolean {
  if (filter.runner && record.runner !== filter.runner) return false;
  return !filter.search || record.text.toLowerCase().includes(filter.search.toLowerCase());
}

/** One app's log stream, and the records it keeps for tabs that open later. */
class AppLogStream {
  readonly records: LogRecord[] = [];
  state: FollowState = { state: 'connecting' };
  private readonly controller = new AbortController();

  constructor(readonly app: string, ctx: KilnContext, events: {
    /** How many records to keep (kiln.logs.maxLines). */
    maxLines(): number;
    record(stream: AppLogStream, record: LogRecord): void;
    state(): void;
    /** The stream ended for good: the runtime refused it for a reason no retry mends. */
    failed(stream: AppLogStream, reason: string): void;
  }) {
    void followLogsAcrossRestarts(app, { tail: BACKLOG }, (record) => {
      this.records.push(record);
      const cap = events.maxLines();
      if (this.records.length > cap) this.records.splice(0, this.records.length - cap);
      events.record(this, record);
    }, {
      // A tail waits for the runtime to come back; it never starts one unasked.
      connect: () => ctx.connection.existingClient(),
      signal: this.controller.signal,
      onState: (state) => {
        this.state = state;
        events.state();
      },
    }).catch((error: unknown) => {
      const reason = (error as Error).message;
      ctx.output.error(`The log tail of ${app} stopped: ${reason}`);
      events.failed(this, reason);
    });
  }

  stop(): void {
    this.controller.abort();
  }
}

/** What one open log document has shown, so appends continue where it stopped. */
interface ShownDocument {
  app: string;
  filter: LogFilter;
  lastSeq: number;
  runnerWidth: number;
  /** Records to append, and the tail's own notices (already whole lines). */
  pending: (LogRecord | string)[];
  flushing: Promise<void>;
  timer: NodeJS.Timeout | undefined;
  /** Set until its tab is shown: no tab shows it yet, and that is no reason to stop its stream. */
  opening: boolean;
}

class LogTails implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly streams = new Map<string, AppLogStream>();
  /** Apps whose tail failed, with why, while a tab still shows them. */
  private readonly failures = new Map<string, string>();
  private readonly shown = new Map<string, ShownDocument>();
  private readonly status = vscode.window.createStatusBarItem('kiln.logs', vscode.StatusBarAlignment.Left, 10);
  private readonly disposables: vscode.Disposable[] = [this.status];
  private maxLines = logMaxLines();

  constructor(private readonly ctx: KilnContext) {
    this.status.name = 'Kiln Log Tail';
    // The setting is read when it changes, not for every record that arrives.
    this.disposables.push(vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('kiln.logs.maxLines')) this.maxLines = logMaxLines();
    }));
    this.disposables.push(vscode.window.tabGroups.onDidChangeTabs(() => this.followTabs()));
    this.followTabs();
  }

  /** Documents are filled by edits as records come; opening one starts empty. */
  provideTextDocumentContent(): string {
    return '';
  }

  /** Opens (or shows again) the tail of `app` through `filter`. */
  async open(app: string, filter: LogFilter = {}, column?: vscode.ViewColumn): Promise<vscode.TextDocument> {
    const uri = logUri(app, filter);
    const shown = this.follow(app, filter);
    try {
      await shown.flushing;
      const document = await vscode.workspace.openTextDocument(uri);
      const editor = await vscode.window.showTextDocument(document, { preview: false, ...(column ? { viewColumn: column } : {}) });
      this.scrollToEnd(document, editor);
      return document;
    } finally {
      this.settled(uri);
    }
  }

  /** The tail of `app` through `filter` into its document, started unless it runs already. */
  private follow(app: string, filter: LogFilter): ShownDocument {
    const uri = logUri(app, filter);
    this.failures.delete(app);
    const stream = this.streamOf(app);
    let shown = this.shown.get(uri.toString());
    if (!shown) {
      // A new tab, or one VS Code kept from an earlier tail: it shows what the stream has so far,
      // then what comes after (appends wait for this first fill).
      const records = stream.records.filter((record) => matches(record, filter));
      shown = {
        app, filter, lastSeq: records.at(-1)?.seq ?? 0, runnerWidth: runnerColumnWidth(records), pending: [], flushing: Promise.resolve(),
        timer: undefined, opening: true,
      };
      this.shown.set(uri.toString(), shown);
      shown.flushing = this.fill(uri, records, shown.runnerWidth);
    }
    return shown;
  }

  /** The document's tab is up (or never will be): from now on, no tab showing it ends its stream. */
  private settled(uri: vscode.Uri): void {
    const shown = this.shown.get(uri.toString());
    if (shown) shown.opening = false;
    this.showStatus();
  }

  private async fill(uri: vscode.Uri, records: LogRecord[], runnerWidth: number): Promise<void> {
    let document = await vscode.workspace.openTextDocument(uri);
    if (document.languageId !== LOG_LANGUAGE) document = await vscode.languages.setTextDocumentLanguage(document, LOG_LANGUAGE);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(uri, new vscode.Range(0, 0, document.lineCount, 0), records.map((record) => `${formatLogRecord(record, NO_COLOURS, runnerWidth)}\n`).join(''));
    await vscode.workspace.applyEdit(edit);
  }

  /** The open tabs' app and filter, for the filter command. */
  describe(uri: vscode.Uri): { app: string; filter: LogFilter } | undefined {
    return uri.scheme === LOG_SCHEME ? parseLogUri(uri) : undefined;
  }

  /** Runners the app's log has seen, for the filter's choices. */
  runnersSeen(app: string): string[] {
    return [...new Set((this.streams.get(app)?.records ?? []).map((record) => record.runner).filter((runner): runner is string => runner !== null))];
  }

  private streamOf(app: string): AppLogStream {
    let stream = this.streams.get(app);
    if (!stream) {
      stream = new AppLogStream(app, this.ctx, {
        maxLines: () => this.maxLines,
        record: (source, record) => this.deliver(source, record),
        state: () => this.showStatus(),
        failed: (source, reason) => this.failed(source, reason),
      });
      this.streams.set(app, stream);
    }
    return stream;
  }

  private deliver(stream: AppLogStream, record: LogRecord): void {
    for (const shown of this.shown.values()) {
      if (shown.app !== stream.app || record.seq <= shown.lastSeq || !matches(record, shown.filter)) continue;
      shown.lastSeq = record.seq;
      this.append(shown, record);
    }
  }

  private append(shown: ShownDocument, item: LogRecord | string): void {
    shown.pending.push(item);
    shown.timer ??= setTimeout(() => {
      shown.timer = undefined;
      shown.flushing = shown.flushing.then(() => this.flush(shown));
    }, BATCH_MS);
  }

  /**
   * A stream that failed for good is dropped, so the next open starts a new one; its tabs and
   * the status item say so until then.
   */
  private failed(stream: AppLogStream, reason: string): void {
    if (this.streams.get(stream.app) !== stream) return;
    this.streams.delete(stream.app);
    this.failures.set(stream.app, reason);
    const notice = `${formatClock(new Date().toISOString())} The log tail failed: ${reason.replace(/\.?$/, '.')} Run "Kiln: Tail Logs" to start it again.`;
    for (const shown of this.shown.values()) if (shown.app === stream.app) this.append(shown, notice);
    this.showStatus();
  }

  /** Appends what waits, drops the oldest lines past the cap, and scrolls the editors that were at the end. */
  private async flush(shown: ShownDocument): Promise<void> {
    const items = shown.pending.splice(0);
    const uri = logUri(shown.app, shown.filter);
    const document = vscode.workspace.textDocuments.find((candidate) => candidate.uri.toString() === uri.toString());
    if (items.length === 0 || !document) return;
    const following = vscode.window.visibleTextEditors.filter((editor) => editor.document === document && atEnd(editor));
    shown.runnerWidth = Math.max(shown.runnerWidth, runnerColumnWidth(items.filter((item): item is LogRecord => typeof item !== 'string')));
    const lines = items.map((item) => `${typeof item === 'string' ? item : formatLogRecord(item, NO_COLOURS, shown.runnerWidth)}\n`);
    const edit = new vscode.WorkspaceEdit();
    // The document always ends with an empty line after the last record's newline.
    const end = new vscode.Position(document.lineCount - 1, 0);
    edit.insert(uri, end, lines.join(''));
    const excess = document.lineCount - 1 + lines.length - this.maxLines;
    if (excess > 0) edit.delete(uri, new vscode.Range(0, 0, excess, 0));
    await vscode.workspace.applyEdit(edit);
    following.forEach((editor) => this.scrollToEnd(editor.document, editor));
  }

  private scrollToEnd(document: vscode.TextDocument, only?: vscode.TextEditor): void {
    const last = new vscode.Position(Math.max(0, document.lineCount - 1), 0);
    for (const editor of only ? [only] : vscode.window.visibleTextEditors.filter((candidate) => candidate.document === document)) {
      editor.revealRange(new vscode.Range(last, last), vscode.TextEditorRevealType.Default);
    }
  }

  /**
   * Tails what the log tabs show, and no more. A tab with no tail behind it (one VS Code restored
   * from an earlier window, or a closed one opened again) starts its tail; the streams no tab
   * shows any more end, and their documents' progress is forgotten.
   */
  private followTabs(): void {
    const uris = vscode.window.tabGroups.all.flatMap((group) => group.tabs)
      .map((tab) => (tab.input instanceof vscode.TabInputText ? tab.input.uri : undefined))
      .filter((uri): uri is vscode.Uri => uri?.scheme === LOG_SCHEME);
    for (const uri of uris) {
      if (this.shown.has(uri.toString())) continue;
      const { app, filter } = parseLogUri(uri);
      void this.follow(app, filter).flushing.finally(() => this.settled(uri));
    }
    const open = new Set(uris.map((uri) => uri.toString()));
    for (const [key, shown] of this.shown) {
      if (open.has(key) || shown.opening) continue;
      clearTimeout(shown.timer);
      this.shown.delete(key);
    }
    const seen = (app: string) => [...this.shown.values()].some((shown) => shown.app === app);
    for (const [app, stream] of this.streams) {
      if (seen(app)) continue;
      stream.stop();
      this.streams.delete(app);
    }
    for (const app of this.failures.keys()) if (!seen(app)) this.failures.delete(app);
    this.showStatus();
  }

  /** While tailing: what is tailed, whether the runtime is there to tail it, and which tails failed. */
  private showStatus(): void {
    const streams = [...this.streams.values()];
    const [failure] = this.failures;
    if (failure) {
      const [app, reason] = failure;
      this.status.text = `$(error) Log tail of ${app} failed`;
      this.status.tooltip = `${reason}\nClick to start the tail again.`;
      this.status.command = { title: 'Tail Logs', command: 'kiln.tailLogs', arguments: [app] };
      this.status.show();
      return;
    }
    this.status.command = undefined;
    if (streams.length === 0) {
      this.status.hide();
      return;
    }
    const waiting = streams.filter((stream) => stream.state.state === 'waiting');
    const names = streams.map((stream) => stream.app).join(', ');
    this.status.text = waiting.length ? `$(debug-disconnect) Tailing ${names}: waiting for the runtime` : `$(pulse) Tailing ${names}`;
    this.status.tooltip = waiting.length
      ? `The runtime is away (${(waiting[0]!.state as Extract<FollowState, { state: 'waiting' }>).reason}); the tail resumes from the last line shown once it is back.`
      : 'Kiln log tail: closing its tabs ends it.';
    this.status.show();
  }

  dispose(): void {
    this.streams.forEach((stream) => stream.stop());
    this.shown.forEach((shown) => clearTimeout(shown.timer));
    this.disposables.forEach((disposable) => disposable.dispose());
  }
}

function atEnd(editor: vscode.TextEditor): boolean {
  const last = editor.visibleRanges.at(-1);
  return !last || last.end.line >= editor.document.lineCount - 2;
}

export function registerLogs(ctx: KilnContext): void {
  const tails = new LogTails(ctx);
  ctx.subscribe(tails, vscode.workspace.registerTextDocumentContentProvider(LOG_SCHEME, tails));
  ctx.registerCommand('kiln.tailLogs', async (argument?: unknown) => {
    const app = await resolveDeployedApp(ctx, argument, 'tail the logs of');
    return app && tails.open(app);
  });
  ctx.registerCommand('kiln.tailRunnerLogs', async (argument?: unknown) => {
    if (isViewNode(argument) && argument.runner) return tails.open(argument.app, { runner: argument.runner });
    const app = await resolveDeployedApp(ctx, argument, 'tail a runner of');
    if (!app) return undefined;
    const runner = await pickRunner(ctx, tails, app);
    return runner && tails.open(app, { runner });
  });
  ctx.registerCommand('kiln.filterLogs', async (argument?: unknown) => {
    const uri = argument instanceof vscode.Uri ? argument : vscode.window.activeTextEditor?.document.uri;
    const current = uri && tails.describe(uri);
    if (!current) throw new Error('open a Kiln log tail first ("Kiln: Tail Logs")');
    const filter = await askFilter(ctx, tails, current.app, current.filter);
    if (!filter) return undefined;
    const column = vscode.window.activeTextEditor?.viewColumn;
    const document = await tails.open(current.app, filter, column);
    // The filtered tab takes the place of the one it was made from.
    const old = vscode.window.tabGroups.all.flatMap((group) => group.tabs)
      .find((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === uri!.toString() && uri!.toString() !== document.uri.toString());
    if (old) await vscode.window.tabGroups.close(old);
    return document;
  });
}

/** The app's runners to choose from: those running now, and those its log has named. */
function runnerChoices(ctx: KilnContext, tails: LogTails, app: string): string[] {
  return [...new Set([...(ctx.model.app(app)?.runnerDetails ?? []).map((runner) => runner.id), ...tails.runnersSeen(app)])];
}

async function pickRunner(ctx: KilnContext, tails: LogTails, app: string): Promise<string | undefined> {
  const runners = runnerChoices(ctx, tails, app);
  if (runners.length === 0) throw new Error(`${app} has no runners now, and its log has named none`);
  return vscode.window.showQuickPick(runners, { title: `Tail which runner of ${app}?` });
}

/** A quick pick of runners, text, or no filter; undefined when dismissed. */
async function askFilter(ctx: KilnContext, tails: LogTails, app: string, current: LogFilter): Promise<LogFilter | undefined> {
  type Choice = vscode.QuickPickItem & { filter?: LogFilter; text?: true };
  const runners = runnerChoices(ctx, tails, app);
  const items: Choice[] = [
    { label: '$(search) Lines containing text…', text: true },
    ...runners.map((runner): Choice => ({ label: `$(server) ${runner}`, description: 'only this runner', filter: { ...current, runner } })),
    ...(current.runner || current.search ? [{ label: '$(clear-all) No filter', description: 'every line of the app', filter: {} }] : []),
  ];
  const choice = await vscode.window.showQuickPick(items, { title: `Filter the log of ${app}` });
  if (!choice) return undefined;
  if (!choice.text) return choice.filter;
  const search = await vscode.window.showInputBox({ title: `Filter the log of ${app}`, prompt: 'Show only lines containing this text (any case)', value: current.search ?? '' });
  return search === undefined ? undefined : { ...current, search: search || undefined };
}
