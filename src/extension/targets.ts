/**
 * Which App (or endpoint) a command acts on, however it was invoked: a CodeLens passes its
 * target, the explorer a file's URI, the apps view one of its items, and the Command Palette or
 * the walkthrough nothing at all, in which case it is the App in the Python file in view (a
 * quick pick when the file has several) or, for an endpoint with no Python file about, one the
 * runtime serves. Also remembers which file each deployed app came from, so the apps view can
 * deploy it again.
 */
import * as vscode from 'vscode';
import type { AppDetail } from '../shared/api';
import type { AppTarget, DocumentApp, EndpointTarget } from '../shared/protocol';
import type { KilnContext } from './ctx';

/** What the apps view's items carry: enough to name an app, an endpoint or a runner. */
export interface ViewNode {
  /** Empty for items of no app (a secret). */
  app: string;
  path?: string;
  runner?: string;
  secret?: string;
}

export function isViewNode(value: unknown): value is ViewNode {
  return typeof value === 'object' && value !== null && !('uri' in value) && (typeof (value as ViewNode).app === 'string' || typeof (value as ViewNode).secret === 'string');
}

function isAppTarget(value: unknown): value is AppTarget {
  return typeof value === 'object' && value !== null && typeof (value as AppTarget).uri === 'string' && typeof (value as AppTarget).className === 'string';
}

const SOURCES_KEY = 'kiln.appSources';

/** Where each app deployed from this workspace came from: app name -> its file and class. */
export class AppSources {
  constructor(private readonly memento: vscode.Memento) {}

  remember(target: AppTarget, appName: string): void {
    const sources = this.all();
    sources[appName] = { uri: target.uri, className: target.className, appName };
    void this.memento.update(SOURCES_KEY, sources);
  }

  of(appName: string): AppTarget | undefined {
    return this.all()[appName];
  }

  private all(): Record<string, AppTarget> {
    return { ...this.memento.get<Record<string, AppTarget>>(SOURCES_KEY, {}) };
  }
}

/**
 * The Python file the user works in: the active editor's; with another editor active (the
 * walkthrough, a log, the tester), the one Python editor in view, else the last one active that
 * is still open.
 */
export class PythonFileInView implements vscode.Disposable {
  private last: vscode.Uri | undefined;
  private readonly listener = vscode.window.onDidChangeActiveTextEditor((editor) => this.note(editor));

  constructor() {
    this.note(vscode.window.activeTextEditor);
  }

  get(): vscode.Uri | undefined {
    const active = vscode.window.activeTextEditor?.document;
    if (active?.languageId === 'python') return active.uri;
    const visible = vscode.window.visibleTextEditors.filter((editor) => editor.document.languageId === 'python');
    if (visible.length === 1) return visible[0]!.document.uri;
    const last = this.last?.toString();
    const open = vscode.window.tabGroups.all.some((group) => group.tabs.some((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === last));
    return open ? this.last : undefined;
  }

  private note(editor: vscode.TextEditor | undefined): void {
    if (editor?.document.languageId === 'python') this.last = editor.document.uri;
  }

  dispose(): void {
    this.listener.dispose();
  }
}

/**
 * The App a command acts on, or undefined when the user dismissed the choice. Throws with a
 * message that says what to do when there is none.
 */
export async function resolveApp(ctx: KilnContext, argument: unknown, verb: string): Promise<AppTarget | undefined> {
  if (isAppTarget(argument)) return argument;
  if (isViewNode(argument)) {
    const source = ctx.sources.of(argument.app);
    if (!source) throw new Error(`Kiln does not know which file ${argument.app} was deployed from: open it and run "Kiln: Deploy App"`);
    return source;
  }
  const uri = argument instanceof vscode.Uri ? argument : ctx.pythonFile.get();
  if (!uri) throw new Error(`open the Python file of a fal.App first, to ${verb} it (or use the CodeLens above its class, or the Kiln view)`);
  const apps = await ctx.documentApps(uri);
  if (apps.length === 0) throw new Error(`${vscode.workspace.asRelativePath(uri)} defines no fal.App class to ${verb}`);
  if (apps.length === 1) return appTargetOf(apps[0]!);
  const picked = await vscode.window.showQuickPick(apps.map((app) => ({ label: app.className, description: app.appName, app })), {
    title: `${capitalize(verb)} which app of ${vscode.workspace.asRelativePath(uri)}?`,
  });
  return picked && appTargetOf(picked.app);
}

/** An endpoint in an editor (with its file and parameters), or one the runtime serves. */
export type ResolvedEndpoint = EndpointTarget | { app: string; path: string };

/**
 * The endpoint a command acts on: a lens's, a view item's, one of the Python file's in view, or
 * with no Python file about, one of those the runtime serves (picked when several).
 */
export async function resolveEndpoint(ctx: KilnContext, argument: unknown, verb: string): Promise<ResolvedEndpoint | undefined> {
  if (isAppTarget(argument) && typeof (argument as EndpointTarget).path === 'string') return argument as EndpointTarget;
  if (isViewNode(argument)) return pickDeployedEndpoint(ctx, argument);
  const uri = argument instanceof vscode.Uri ? argument : ctx.pythonFile.get();
  if (!uri) return pickServedEndpoint(ctx, verb);
  const apps = await ctx.documentApps(uri);
  const endpoints = apps.flatMap((app) => app.endpoints);
  if (endpoints.length === 0) throw new Error(`${vscode.workspace.asRelativePath(uri)} has no @fal.endpoint to ${verb}`);
  if (endpoints.length === 1) return endpoints[0];
  const picked = await vscode.window.showQuickPick(endpoints.map((endpoint) => ({
    label: endpoint.path, description: `${endpoint.appName} (${endpoint.className})`, endpoint,
  })), { title: `${capitalize(verb)} which endpoint?` });
  return picked?.endpoint;
}

/** A view item names an app, maybe an endpoint: an app's endpoints are picked from what the runtime serves. */
async function pickDeployedEndpoint(ctx: KilnContext, node: ViewNode): Promise<{ app: string; path: string } | undefined> {
  if (node.path) return { app: node.app, path: node.path };
  // Just deployed, the model may not have read the app yet: the runtime has.
  const app = ctx.model.app(node.app) ?? await ctx.connection.run((client) => client.getApp(node.app));
  const endpoints = app.endpoints.filter((endpoint) => !endpoint.isHealth);
  if (endpoints.length <= 1) return { app: node.app, path: endpoints[0]?.path ?? '/' };
  const picked = await vscode.window.showQuickPick(endpoints.map((endpoint) => ({ label: endpoint.path, description: endpoint.functionName })),
    { title: `Which endpoint of ${node.app}?` });
  return picked && { app: node.app, path: picked.label };
}

/** Any endpoint the runtime serves, health checks aside: the one there is, or the one picked. */
async function pickServedEndpoint(ctx: KilnContext, verb: string): Promise<{ app: string; path: string } | undefined> {
  // The model is empty until the runtime was first needed: then the runtime itself is asked.
  const apps: AppDetail[] = ctx.model.apps().length ? ctx.model.apps()
    : await ctx.connection.run(async (client) => Promise.all((await client.listApps()).map((summary) => client.getApp(summary.name))));
  const endpoints = apps.flatMap((app) => app.endpoints.filter((endpoint) => !endpoint.isHealth).map((endpoint) => ({ app: app.name, path: endpoint.path })));
  if (endpoints.length === 0) throw new Error(`no endpoint is deployed to ${verb}: open the Python file of a fal.App and deploy it first`);
  if (endpoints.length === 1) return endpoints[0];
  const picked = await vscode.window.showQuickPick(endpoints.map((endpoint) => ({ label: `${endpoint.app}${endpoint.path}`, endpoint })),
    { title: `${capitalize(verb)} which endpoint?` });
  return picked?.endpoint;
}

/**
 * A deployed app's name: a view item's, a lens's (its app name), the App of the Python file in
 * view, or one of the runtime's apps picked from a list.
 */
export async function resolveDeployedApp(ctx: KilnContext, argument: unknown, verb: string): Promise<string | undefined> {
  if (isViewNode(argument)) return argument.app;
  if (isAppTarget(argument)) return argument.appName;
  if (typeof argument === 'string') return argument;
  // The model is empty while the runtime is away: asking the runtime says why.
  const deployed = ctx.model.apps().length ? ctx.model.apps().map((app) => app.name)
    : (await ctx.connection.run((client) => client.listApps())).map((app) => app.name);
  const file = ctx.pythonFile.get();
  if (file) {
    const mine = (await ctx.documentApps(file)).filter((app) => deployed.includes(app.appName));
    if (mine.length === 1) return mine[0]!.appName;
  }
  if (deployed.length === 0) throw new Error(`no app is deployed to ${verb}: deploy one first`);
  if (deployed.length === 1) return deployed[0];
  return vscode.window.showQuickPick(deployed, { title: `${capitalize(verb)} which app?` });
}

function appTargetOf(app: DocumentApp): AppTarget {
  return { uri: app.uri, className: app.className, appName: app.appName };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Saves the open document of `uri` when it has unsaved changes: what a command sends is what the editor shows. */
export async function saveIfDirty(uri: vscode.Uri): Promise<void> {
  const document = vscode.workspace.textDocuments.find((candidate) => candidate.uri.toString() === uri.toString());
  if (document?.isDirty) await document.save();
}
