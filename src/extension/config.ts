/** The only place that reads Kiln's settings. */
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
