/** Activation only: everything the extension owns lives in KilnContext. */
import type * as vscode from 'vscode';
import { KilnContext } from './ctx';

let kiln: KilnContext | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const started = performance.now();
  kiln = new KilnContext(context);
  await kiln.start();
  kiln.output.info(`Kiln ${context.extension.packageJSON.version} activated in ${Math.round(performance.now() - started)} ms`);
}

export async function deactivate(): Promise<void> {
  await kiln?.dispose();
}
