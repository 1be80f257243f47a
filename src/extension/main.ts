/** Activation only: everything the extension owns lives in KilnContext. */
import type * as vscode from 'vscode';
import { KilnContext } from './ctx';

let kiln: KilnContext | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  kiln = new KilnContext(context);
  await kiln.start();
}

export async function deactivate(): Promise<void> {
  await kiln?.dispose();
}
