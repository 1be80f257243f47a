/** The only place that reads (and writes) Kiln's settings. */
import * as vscode from 'vscode';
import type { ServerSettings } from '../shared/protocol';

const section = () => vscode.workspace.getConfiguration('kiln');

export function serverSettings(): ServerSettings {
  return { inlayHints: section().get<boolean>('inlayHints.enabled', true) };
}

/** Whether a configuration change touches anything the language server reads. */
export function affectsServer(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration('kiln.inlayHints');
}

/** The interpreter apps are deployed with; undefined leaves the choice to the runtime. */
export function runtimePython(): string | undefined {
  return section().get<string>('python.path')?.trim() || undefined;
}

export interface RuntimeSettings {
  /** Start the bundled runtime when something needs one and none runs. */
  autoStart: boolean;
  /** A remote runtime's URL; undefined means the bundled runtime on this machine. */
  url: string | undefined;
}

/** A runtime URL as Kiln keeps it (its token is stored under this form): trimmed, no trailing slash. */
export function normalizeRuntimeUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

export function runtimeSettings(): RuntimeSettings {
  return {
    autoStart: section().get<boolean>('runtime.autoStart', true),
    url: normalizeRuntimeUrl(section().get<string>('runtime.url') ?? '') || undefined,
  };
}

/** Whether a configuration change touches which runtime the extension talks to, or whether it starts one. */
export function affectsRuntime(event: vscode.ConfigurationChangeEvent): boolean {
  return event.affectsConfiguration('kiln.runtime');
}

/**
 * Remembers the remote runtime to use; undefined goes back to the bundled one. A URL set for
 * this workspace outranks the user's, so the URL goes where the one in force was set (the
 * user's settings when none was), and going back to the bundled runtime clears it at every
 * level. Says whether the runtime in use changed (the settings' change event follows).
 */
export async function setRuntimeUrl(url: string | undefined): Promise<boolean> {
  const before = runtimeSettings().url;
  const set = section().inspect<string>('runtime.url');
  const { Global, Workspace } = vscode.ConfigurationTarget;
  const inWorkspace = set?.workspaceValue !== undefined;
  const levels = url === undefined
    ? [...(set?.globalValue !== undefined ? [Global] : []), ...(inWorkspace ? [Workspace] : [])]
    : [inWorkspace ? Workspace : Global];
  for (const level of levels) await section().update('runtime.url', url, level);
  return runtimeSettings().url !== before;
}

/** How many lines a log view keeps before dropping the oldest. */
export function logMaxLines(): number {
  return Math.max(100, section().get<number>('logs.maxLines', 5000));
}
