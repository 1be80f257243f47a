/**
 * The endpoint tester's host: one panel, reused (as REST Client reuses its response view), that
 * shows one endpoint at a time. The page (src/webview/tester) builds a form from the endpoint's
 * input schema and sends; this side calls the runtime (sync, or through the queue with its
 * position and logs), measures, prices the request, fetches the pictures, keeps the history and
 * writes the snippets. Messages are typed in src/shared/webviewProtocol.ts.
 */
import * as vscode from 'vscode';
import { findMachineType } from '../appconfig/catalog';
import { runnerRate } from '../appconfig/cost';
import { type InvokeResult, KilnApiError, type KilnClient } from '../client';
import { type AppDetail, INVOKE_HEADERS, type QueueStatus } from '../shared/api';
import {
  type EndpointRef, type ExtensionToTester, type HistoryEntry, type InvokeMode, parseTesterMessage, type SnippetKind, type TesterEndpoint,
  type TesterRequestEvent, type TesterResponse, type TesterTiming, type TesterToExtension,
} from '../shared/webviewProtocol';
import type { KilnContext } from './ctx';
import { deployedEndpoint } from './deploy';
import { curlSnippet, falClientSnippet, fetchImages, TesterHistory } from './testerRequests';
import { createKilnPanel } from './webviewHtml';

const VIEW_TYPE = 'kiln.tester';

/** What a runner of the app costs per second; null for a machine type the catalog does not know. */
function pricePerSecond(app: AppDetail): number | null {
  const type = findMachineType(app.machineType);
  return type ? runnerRate(type, app.config.numGpus).perSecond : null;
}

const sameEndpoint = (a: EndpointRef, b: EndpointRef) => a.app === b.app && a.path === b.path;

class TesterPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private current: EndpointRef | undefined;
  private pendingInput: Record<string, unknown> | undefined;
  private inFlight: AbortController | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly ctx: KilnContext, private readonly history: TesterHistory) {
    // A redeploy can change an endpoint's schema; a delete removes it. While the runtime is away
    // the page keeps what it shows (and this never starts a runtime unasked).
    this.disposables.push(ctx.model.onDidChange(() => {
      if (this.panel && this.current && !this.inFlight && ctx.connection.state.kind === 'connected') void this.postEndpoint();
    }));
  }

  /** Shows the tester on an endpoint; without stealing the focus when `preserveFocus`. */
  show(endpoint: EndpointRef, input?: Record<string, unknown>): vscode.WebviewPanel {
    // A request under way is for the endpoint shown until now: its answer has no place any more.
    if (this.current && !sameEndpoint(this.current, endpoint)) this.inFlight?.abort();
    this.current = endpoint;
    this.pendingInput = input;
    if (!this.panel) {
      this.panel = createKilnPanel(this.ctx.extension.extensionUri, {
        viewType: VIEW_TYPE, title: this.title(), column: { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
        bundle: 'tester', pageTitle: 'Kiln Tester',
        parse: parseTesterMessage,
        receive: (message) => void this.receive(message),
        disposed: () => {
          this.inFlight?.abort();
          this.panel = undefined;
        },
      });
    } else {
      this.panel.title = this.title();
      this.panel.reveal(undefined, false);
      void this.postEndpoint();
    }
    return this.panel;
  }

  private title(): string {
    return this.current ? `Test ${this.current.app}${this.current.path === '/' ? '' : this.current.path}` : 'Kiln Tester';
  }

  private post(message: ExtensionToTester): void {
    void this.panel?.webview.postMessage(message);
  }

  /** Tells the page how the request for `target` goes, unless the page has moved to another endpoint. */
  private update(target: EndpointRef, event: TesterRequestEvent): void {
    if (this.current && sameEndpoint(this.current, target)) this.post({ ...event, target });
  }

  private async receive(message: TesterToExtension): Promise<void> {
    try {
      switch (message.type) {
        case 'ready':
          await this.postEndpoint();
          break;
        case 'switchEndpoint':
          this.show({ app: message.app, path: message.path });
          break;
        case 'send':
          await this.send(message.input, message.mode);
          break;
        case 'cancel':
          this.inFlight?.abort();
          break;
        case 'copy':
          await this.copy(message.as, message.input);
          break;
      }
    } catch (error) {
      if (this.current) this.update(this.current, { type: 'failed', message: (error as Error).message });
    }
  }

  private async postEndpoint(): Promise<void> {
    const current = this.current;
    if (!current || !this.panel) return;
    let app: AppDetail;
    try {
      app = await this.ctx.connection.run((client) => client.getApp(current.app));
    } catch (error) {
      if (current !== this.current) return;
      const reason = error instanceof KilnApiError && error.status === 404 ? `${current.app} is not deployed.` : (error as Error).message;
      this.post({ type: 'missing', app: current.app, path: current.path, reason });
      return;
    }
    // A newer show() overtook this one: what it posts is what the page must show.
    if (current !== this.current) return;
    const info = app.endpoints.find((endpoint) => endpoint.path === current.path);
    if (!info) {
      this.post({ type: 'missing', app: current.app, path: current.path, reason: `${current.app} has no endpoint ${current.path} (it has ${app.endpoints.map((e) => e.path).join(', ')}).` });
      return;
    }
    const endpoint: TesterEndpoint = {
      app: app.name, path: info.path, url: info.url, inputSchema: info.inputSchema, machineType: app.machineType,
      pricePerSecond: pricePerSecond(app) ?? 0,
    };
    const others = this.ctx.model.apps().flatMap((other) => other.endpoints.filter((e) => !e.isHealth).map((e) => ({ app: other.name, path: e.path })));
    const input = this.pendingInput;
    this.pendingInput = undefined;
    this.post({ type: 'endpoint', endpoint, others, history: this.history.of(app.name, info.path), ...(input ? { input } : {}) });
  }

  private async send(input: Record<string, unknown>, mode: InvokeMode): Promise<void> {
    const current = this.current;
    if (!current) return;
    this.inFlight?.abort();
    const controller = new AbortController();
    this.inFlight = controller;
    this.update(current, { type: 'sending', mode });
    const started = performance.now();
    try {
      // run(): a runtime restarted since the page opened is found again, and one that is away says what fixes it.
      const { result, timing, runtimeUrl } = await this.ctx.connection.run(async (client) => ({
        ...(mode === 'queue'
          ? await this.sendQueued(client, current, input, controller.signal, started)
          : await this.sendSync(client, current, input, controller.signal, started)),
        runtimeUrl: client.url,
      }));
      if (controller.signal.aborted) {
        this.update(current, { type: 'failed', message: 'Cancelled.' });
        return;
      }
      const app = this.ctx.model.app(current.app);
      const price = app ? pricePerSecond(app) : null;
      const header = (name: string) => result.headers[name] ?? null;
      const images = await fetchImages(result.body, runtimeUrl);
      const response: TesterResponse = {
        mode,
        status: result.status,
        body: result.body,
        images,
        timing,
        costUsd: price !== null && timing.executionMs !== null ? price * (timing.executionMs / 1000) : null,
        requestId: header(INVOKE_HEADERS.requestId),
        runner: header(INVOKE_HEADERS.runner),
        revision: header(INVOKE_HEADERS.revision) === null ? null : Number(header(INVOKE_HEADERS.revision)),
        errorType: header(INVOKE_HEADERS.errorType),
      };
      const entry: HistoryEntry = { input, mode, time: new Date().toISOString(), status: result.status, totalMs: timing.totalMs };
      const history = this.history.add(current.app, current.path, entry);
      if (!controller.signal.aborted) this.update(current, { type: 'response', response, history });
    } catch (error) {
      this.update(current, { type: 'failed', message: controller.signal.aborted ? 'Cancelled.' : (error as Error).message });
    } finally {
      if (this.inFlight === controller) this.inFlight = undefined;
    }
  }

  private async sendSync(client: KilnClient, target: EndpointRef, input: unknown, signal: AbortSignal, started: number): Promise<{ result: InvokeResult; timing: TesterTiming }> {
    const result = await client.invoke(target.app, target.path, input, { signal });
    const number = (name: string) => (result.headers[name] === undefined ? null : Number(result.headers[name]));
    return {
      result,
      timing: {
        totalMs: performance.now() - started,
        queueMs: number(INVOKE_HEADERS.queueMs),
        coldStartMs: number(INVOKE_HEADERS.coldStartMs),
        executionMs: number(INVOKE_HEADERS.executionMs),
      },
    };
  }

  /** Through fal's queue API: the position while queued, the logs while running, then the result. */
  private async sendQueued(client: KilnClient, target: EndpointRef, input: unknown, signal: AbortSignal, started: number): Promise<{ result: InvokeResult; timing: TesterTiming }> {
    const submitted = await client.queueSubmit(target.app, target.path, input, { signal });
    const id = submitted.request_id;
    this.update(target, { type: 'queued', requestId: id, position: 0 });
    let runningAt: number | null = null;
    let logsSent = 0;
    let inferenceSeconds: number | null = null;
    const onStatus = (status: QueueStatus) => {
      if (status.status === 'IN_QUEUE') this.update(target, { type: 'queued', requestId: id, position: status.queue_position });
      if (status.status !== 'IN_QUEUE' && runningAt === null) {
        runningAt = performance.now();
        this.update(target, { type: 'running', requestId: id });
      }
      const logs = 'logs' in status ? status.logs ?? [] : [];
      if (logs.length > logsSent) {
        this.update(target, { type: 'log', lines: logs.slice(logsSent).map((log) => log.message) });
        logsSent = logs.length;
      }
      if (status.status === 'COMPLETED') inferenceSeconds = status.metrics.inference_time;
    };
    const completed = await client.waitForQueued(target.app, id, onStatus, { signal, logs: true });
    if (!completed) {
      await client.queueCancel(target.app, id).catch(() => undefined);
      throw new Error('Cancelled.');
    }
    const result = await client.queueResult(target.app, id);
    return {
      result: { ...result, headers: { [INVOKE_HEADERS.requestId]: id, ...result.headers } },
      timing: {
        totalMs: performance.now() - started,
        queueMs: runningAt === null ? null : runningAt - started,
        coldStartMs: null,
        executionMs: inferenceSeconds === null ? null : inferenceSeconds * 1000,
      },
    };
  }

  private async copy(as: SnippetKind, input: Record<string, unknown>): Promise<void> {
    const current = this.current;
    if (!current) return;
    const client = await this.ctx.connection.client();
    const mode = this.history.of(current.app, current.path)[0]?.mode ?? 'sync';
    const text = as === 'curl' ? curlSnippet(client.url, current.app, current.path, input, mode) : falClientSnippet(client.url, current.app, current.path, input, mode);
    await vscode.env.clipboard.writeText(text);
    vscode.window.setStatusBarMessage(`$(copy) Copied the request as ${as === 'curl' ? 'curl' : '@fal-ai/client code'}`, 3000);
  }

  dispose(): void {
    this.inFlight?.abort();
    this.panel?.dispose();
    this.disposables.forEach((disposable) => disposable.dispose());
  }
}

export function registerTester(ctx: KilnContext): void {
  const tester = new TesterPanel(ctx, new TesterHistory(ctx.memento));
  ctx.subscribe(tester);
  // ▶ Invoke (a lens), the palette's Open Endpoint Tester (kiln.invoke), the view's endpoints and
  // the walkthrough (kiln.openTester) all open the tester.
  const open = async (argument?: unknown) => {
    const called = await deployedEndpoint(ctx, argument, 'Deploy and Open Tester');
    return called && tester.show({ app: called.app, path: called.endpoint.path });
  };
  ctx.registerCommand('kiln.invoke', open);
  ctx.registerCommand('kiln.openTester', open);
}

