/**
 * The usage dashboard's host (the spec's "monitor usage" tip): a panel whose page
 * (src/webview/dashboard) charts, per app, requests per minute, latency p50 and p95, runners and
 * cost over time, from the runtime's per-minute usage (GET /v1/usage). It reads again while
 * visible: every 15 s, and soon after the runtime reports a change.
 */
import * as vscode from 'vscode';
import { type DashboardHours, type ExtensionToDashboard, parseDashboardMessage } from '../shared/webviewProtocol';
import type { KilnContext } from './ctx';
import { createKilnPanel } from './webviewHtml';

const REFRESH_MS = 15_000;
const DEFAULT_HOURS: DashboardHours = 1;

class Dashboard implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private hours: DashboardHours = DEFAULT_HOURS;
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly ctx: KilnContext) {
    this.disposables.push(ctx.model.onDidChange(() => this.readSoon()));
  }

  show(): vscode.WebviewPanel {
    if (this.panel) {
      this.panel.reveal();
      return this.panel;
    }
    const panel = createKilnPanel(this.ctx.extension.extensionUri, {
      viewType: 'kiln.dashboard', title: 'Kiln Usage', column: vscode.ViewColumn.Active, bundle: 'dashboard', pageTitle: 'Kiln Usage',
      parse: parseDashboardMessage,
      receive: (message) => {
        if (message.type === 'range') this.hours = message.hours;
        void this.read();
      },
      disposed: () => {
        clearInterval(this.timer);
        this.panel = undefined;
      },
    });
    // An event of the panel's own, which ends with it.
    panel.onDidChangeViewState(() => { if (panel.visible) void this.read(); });
    this.timer = setInterval(() => { if (panel.visible) void this.read(); }, REFRESH_MS);
    this.panel = panel;
    return panel;
  }

  private readSoon(): void {
    if (!this.panel?.visible) return;
    clearTimeout(this.pending);
    this.pending = setTimeout(() => void this.read(), 1_000);
  }

  private async read(): Promise<void> {
    const panel = this.panel;
    if (!panel) return;
    let message: ExtensionToDashboard;
    try {
      // A refresh never starts a runtime: without one the page says so.
      const usage = await (await this.ctx.connection.existingClient()).usage(`${this.hours}h`);
      message = { type: 'usage', usage, hours: this.hours, now: new Date().toISOString() };
    } catch (error) {
      message = { type: 'unavailable', reason: (error as Error).message };
    }
    void panel.webview.postMessage(message);
  }

  dispose(): void {
    clearInterval(this.timer);
    clearTimeout(this.pending);
    this.panel?.dispose();
    this.disposables.forEach((disposable) => disposable.dispose());
  }
}

export function registerDashboard(ctx: KilnContext): void {
  const dashboard = new Dashboard(ctx);
  ctx.subscribe(dashboard);
  ctx.registerCommand('kiln.openDashboard', () => dashboard.show());
}
