/**
 * The Kiln view in the activity bar: the runtime (URL, GPUs, Python, sandbox), each app with its
 * state, revision, machine type and cost, its endpoints (a click opens the tester) and runners,
 * then secrets (names only) and volumes. It redraws when the model changes, which the runtime's
 * events drive. Items carry context values (kiln.app, kiln.endpoint, …) so each menu shows only
 * where it applies; when no runtime answers, the view shows a welcome with what fixes that.
 */
import * as vscode from 'vscode';
import { formatDuration, formatUsd } from '../appconfig/cost';
import type { AppDetail, EndpointInfo, RunnerInfo, SecretInfo, VolumeInfo } from '../shared/api';
import { runtimeSettings } from './config';
import type { KilnContext } from './ctx';
import { devCopyOf } from './devMode';
import type { ViewNode } from './targets';

const APPS_VIEW = 'kiln.apps';

type Node =
  | { kind: 'runtime' }
  | { kind: 'runtime-detail'; label: string; value: string; icon: string }
  | { kind: 'no-apps' }
  | { kind: 'app'; app: AppDetail }
  | { kind: 'endpoint'; app: AppDetail; endpoint: EndpointInfo }
  | { kind: 'runners'; app: AppDetail }
  | { kind: 'runner'; app: AppDetail; runner: RunnerInfo }
  | { kind: 'secrets' }
  | { kind: 'secret'; secret: SecretInfo }
  | { kind: 'volumes' }
  | { kind: 'volume'; volume: VolumeInfo };

/**
 * The item a command receives from the view: its node, and the names the commands read (a
 * ViewNode: app, endpoint path, runner, secret).
 */
class KilnTreeItem extends vscode.TreeItem implements Partial<ViewNode> {
  app?: string;
  path?: string;
  runner?: string;
  secret?: string;

  constructor(readonly node: Node, label: string, collapsible = vscode.TreeItemCollapsibleState.None) {
    super(label, collapsible);
    if ('app' in node) this.app = node.app.name;
    if (node.kind === 'endpoint') this.path = node.endpoint.path;
    if (node.kind === 'runner') this.runner = node.runner.id;
    if (node.kind === 'secret') this.secret = node.secret.name;
  }
}

const STATE_ICONS: Record<AppDetail['state'], vscode.ThemeIcon> = {
  live: new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed')),
  deploying: new vscode.ThemeIcon('sync~spin'),
  failing: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  stopped: new vscode.ThemeIcon('circle-outline'),
};

const RUNNER_ICONS: Record<RunnerInfo['state'], vscode.ThemeIcon> = {
  starting: new vscode.ThemeIcon('loading~spin'),
  setup: new vscode.ThemeIcon('loading~spin'),
  idle: new vscode.ThemeIcon('circle-large-outline'),
  busy: new vscode.ThemeIcon('pulse', new vscode.ThemeColor('charts.blue')),
  stopping: new vscode.ThemeIcon('debug-stop'),
};

class AppsTree implements vscode.TreeDataProvider<KilnTreeItem> {
  private readonly changed = new vscode.EventEmitter<KilnTreeItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly ctx: KilnContext) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(item: KilnTreeItem): KilnTreeItem {
    return item;
  }

  getChildren(parent?: KilnTreeItem): KilnTreeItem[] {
    const { state } = this.ctx.connection;
    // Not connected: no items, so the view shows its welcome content with the fix.
    if (state.kind !== 'connected') return [];
    if (!parent) {
      const apps = this.ctx.model.apps();
      return [
        this.item({ kind: 'runtime' }),
        ...(apps.length ? apps.map((app) => this.item({ kind: 'app', app })) : [this.item({ kind: 'no-apps' })]),
        this.item({ kind: 'secrets' }),
        this.item({ kind: 'volumes' }),
      ];
    }
    const { node } = parent;
    switch (node.kind) {
      case 'runtime': {
        const { health } = state;
        const gpus = health.gpus.length ? health.gpus.map((gpu) => `${gpu.name} (${Math.round(gpu.memoryMiB / 1024)} GiB)`).join(', ')
          : `none: GPU apps ${health.gpuFallback === 'cpu' ? 'run on CPU' : 'fail to deploy'}`;
        return [
          this.item({ kind: 'runtime-detail', label: 'URL', value: health.url, icon: 'link' }),
          this.item({ kind: 'runtime-detail', label: 'GPUs', value: gpus, icon: 'circuit-board' }),
          this.item({ kind: 'runtime-detail', label: 'Python', value: `${health.python.version ?? 'not found'} · ${health.python.path}`, icon: 'symbol-namespace' }),
          this.item({ kind: 'runtime-detail', label: 'Sandbox', value: health.sandbox ? 'bubblewrap' : 'none', icon: 'shield' }),
          this.item({ kind: 'runtime-detail', label: 'Version', value: health.version, icon: 'versions' }),
        ];
      }
      case 'app':
        return [
          ...node.app.endpoints.map((endpoint) => this.item({ kind: 'endpoint', app: node.app, endpoint })),
          this.item({ kind: 'runners', app: node.app }),
        ];
      case 'runners':
        return node.app.runnerDetails.map((runner) => this.item({ kind: 'runner', app: node.app, runner }));
      case 'secrets':
        return this.ctx.model.secrets().map((secret) => this.item({ kind: 'secret', secret }));
      case 'volumes':
        return this.ctx.model.volumes().map((volume) => this.item({ kind: 'volume', volume }));
      default:
        return [];
    }
  }

  private item(node: Node): KilnTreeItem {
    const { None, Collapsed, Expanded } = vscode.TreeItemCollapsibleState;
    switch (node.kind) {
      case 'runtime': {
        const item = new KilnTreeItem(node, 'Runtime', Collapsed);
        const state = this.ctx.connection.state;
        item.description = state.kind === 'connected' ? `${state.remote ? 'remote · ' : ''}${state.health.url}` : '';
        item.iconPath = new vscode.ThemeIcon(runtimeSettings().url ? 'remote' : 'server-process');
        item.contextValue = 'kiln.runtime';
        item.id = 'runtime';
        return item;
      }
      case 'runtime-detail': {
        const item = new KilnTreeItem(node, node.label, None);
        item.description = node.value;
        item.tooltip = `${node.label}: ${node.value}`;
        item.iconPath = new vscode.ThemeIcon(node.icon);
        item.id = `runtime/${node.label}`;
        return item;
      }
      case 'no-apps': {
        const item = new KilnTreeItem(node, 'No apps deployed yet', None);
        item.description = 'Deploy the app in the editor';
        item.iconPath = new vscode.ThemeIcon('info');
        item.command = { title: 'Deploy App', command: 'kiln.deploy' };
        return item;
      }
      case 'app': {
        const { app } = node;
        const item = new KilnTreeItem(node, app.name, Collapsed);
        item.id = `app/${app.name}`;
        item.description = `${app.state} · r${app.revision} · ${app.machineType} · ${formatUsd(app.costUsd)}`;
        item.iconPath = STATE_ICONS[app.state];
        item.tooltip = appTooltip(app);
        const dev = devCopyOf(app.name) ? '.dev' : '';
        const local = this.ctx.sources.of(app.name) ? '.local' : '';
        item.contextValue = `kiln.app${local}${dev}`;
        return item;
      }
      case 'endpoint': {
        const { app, endpoint } = node;
        const item = new KilnTreeItem(node, endpoint.path, None);
        item.id = `app/${app.name}/endpoint${endpoint.path}`;
        item.description = `${endpoint.functionName}${endpoint.isHealth ? ' · health check' : ''}`;
        item.iconPath = new vscode.ThemeIcon(endpoint.isHealth ? 'heart' : 'symbol-method');
        item.tooltip = `POST ${endpoint.url}`;
        item.contextValue = 'kiln.endpoint';
        item.command = { title: 'Open Tester', command: 'kiln.openTester', arguments: [{ app: app.name, path: endpoint.path }] };
        return item;
      }
      case 'runners': {
        const count = node.app.runnerDetails.length;
        const item = new KilnTreeItem(node, 'Runners', count ? Expanded : None);
        item.id = `app/${node.app.name}/runners`;
        item.description = count ? String(count) : 'none (scaled to zero)';
        item.iconPath = new vscode.ThemeIcon('server');
        item.contextValue = 'kiln.runners';
        return item;
      }
      case 'runner': {
        const { runner } = node;
        const item = new KilnTreeItem(node, runner.id, None);
        item.id = `runner/${runner.id}`;
        const where = runner.gpus.length ? `GPU ${runner.gpus.join(',')}` : runner.cpuFallback ? 'CPU (no GPU here)' : 'CPU';
        item.description = `${runner.state} · ${where} · up ${formatDuration(runner.uptimeSeconds)} · ${runner.requestsServed} req`;
        item.iconPath = RUNNER_ICONS[runner.state];
        item.tooltip = `${runner.id}\nrevision ${runner.revision} · pid ${runner.pid ?? '-'} · ${runner.machineType}` +
          `${runner.coldStartMs !== null ? ` · cold start ${Math.round(runner.coldStartMs)} ms` : ''}`;
        item.contextValue = 'kiln.runner';
        return item;
      }
      case 'secrets': {
        const count = this.ctx.model.secrets().length;
        const item = new KilnTreeItem(node, 'Secrets', count ? Collapsed : None);
        item.id = 'secrets';
        item.description = count ? String(count) : 'none';
        item.iconPath = new vscode.ThemeIcon('key');
        item.contextValue = 'kiln.secrets';
        return item;
      }
      case 'secret': {
        const item = new KilnTreeItem(node, node.secret.name, None);
        item.id = `secret/${node.secret.name}`;
        item.description = `set ${new Date(node.secret.updatedAt).toLocaleString()}`;
        item.iconPath = new vscode.ThemeIcon('lock');
        item.contextValue = 'kiln.secret';
        return item;
      }
      case 'volumes': {
        const count = this.ctx.model.volumes().length;
        const item = new KilnTreeItem(node, 'Volumes', count ? Collapsed : None);
        item.id = 'volumes';
        item.description = count ? String(count) : 'none';
        item.iconPath = new vscode.ThemeIcon('database');
        return item;
      }
      case 'volume': {
        const { volume } = node;
        const item = new KilnTreeItem(node, volume.name, None);
        item.id = `volume/${volume.name}`;
        item.description = `${formatBytes(volume.sizeBytes)}${volume.apps.length ? ` · ${volume.apps.join(', ')}` : ''}`;
        item.tooltip = volume.path;
        item.iconPath = new vscode.ThemeIcon('archive');
        return item;
      }
    }
  }
}

function appTooltip(app: AppDetail): vscode.MarkdownString {
  const tooltip = new vscode.MarkdownString(undefined, true);
  tooltip.appendMarkdown(`**${app.name}** · ${app.className} · revision ${app.revision}\n\n`);
  tooltip.appendMarkdown(`${app.state} · ${app.machineType} · ${app.runners} runner(s) · cost so far ${formatUsd(app.costUsd)}\n\n`);
  tooltip.appendMarkdown(`min ${app.scale.minConcurrency} · max ${app.scale.maxConcurrency ?? 'host limit'} · keep_alive ${app.scale.keepAlive} s`);
  for (const warning of app.warnings) tooltip.appendMarkdown(`\n\n$(warning) ${warning}`);
  return tooltip;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function registerAppsView(ctx: KilnContext): void {
  const tree = new AppsTree(ctx);
  const view = vscode.window.createTreeView(APPS_VIEW, { treeDataProvider: tree, showCollapseAll: true });
  ctx.subscribe(view, ctx.model.onDidChange(() => tree.refresh()), ctx.connection.onDidChangeState(() => tree.refresh()));
  // Opening the view asks to see the runtime: Kiln looks for it from then on, and the bundled one
  // starts if none runs. A runtime that stops later is not started again behind the user's back;
  // the view offers to.
  let searching = true;
  const startIfWanted = () => {
    if (!view.visible) return;
    ctx.connection.ensureWatching();
    if (ctx.connection.state.kind === 'stopped' && runtimeSettings().autoStart) void ctx.connection.startBundled().catch(() => undefined);
  };
  startIfWanted();
  ctx.subscribe(view.onDidChangeVisibility(startIfWanted), ctx.connection.onDidChangeState((state) => {
    if (searching && state.kind !== 'starting' && state.kind !== 'idle') {
      searching = false;
      startIfWanted();
    }
  }));
  ctx.registerCommand('kiln.refreshApps', () => ctx.model.refresh());
}
