/**
 * A failed deploy, shown where it failed: a diagnostic at the line the runtime names (each
 * configuration problem at its own line), beside the notification. It goes away on the next
 * successful deploy of that app, or as soon as the file is edited.
 */
import * as vscode from 'vscode';
import type { DeployError, DeployStep } from '../shared/api';

const SEVERITIES: Record<string, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
};

export class DeployDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('kiln-deploy');
  private readonly listener: vscode.Disposable;

  constructor() {
    this.listener = vscode.workspace.onDidChangeTextDocument(({ document, contentChanges }) => {
      if (contentChanges.length > 0 && this.collection.has(document.uri)) this.collection.delete(document.uri);
    });
  }

  /** Shows a failure of the app whose entry file is `entry`; the file the runtime names is relative to it. */
  async show(failure: DeployError, step: DeployStep | null, entry: vscode.Uri): Promise<vscode.Uri | undefined> {
    if (!failure.line && !failure.problems?.some((problem) => problem.line)) return undefined;
    const file = failure.file ? vscode.Uri.joinPath(entry, '..', failure.file) : entry;
    const document = await vscode.workspace.openTextDocument(file).then(undefined, () => undefined);
    const rangeOf = (line: number) => {
      const index = Math.max(0, line - 1);
      if (!document || index >= document.lineCount) return new vscode.Range(index, 0, index, 0);
      const text = document.lineAt(index);
      return new vscode.Range(index, text.firstNonWhitespaceCharacterIndex, index, text.range.end.character);
    };
    const diagnostic = (line: number, message: string, severity: vscode.DiagnosticSeverity, code: string | undefined) => {
      const made = new vscode.Diagnostic(rangeOf(line), message, severity);
      made.source = 'Kiln deploy';
      if (code) made.code = code;
      return made;
    };
    const located = (failure.problems ?? []).filter((problem) => problem.line);
    const diagnostics = located.length
      ? located.map((problem) => diagnostic(problem.line!, problem.message, SEVERITIES[problem.severity] ?? vscode.DiagnosticSeverity.Error, problem.code))
      : [diagnostic(failure.line!, `Deploy failed${step ? ` at ${step}` : ''}: ${failure.message}`, vscode.DiagnosticSeverity.Error, failure.code)];
    this.collection.set(file, diagnostics);
    return file;
  }

  /** A deploy of the app succeeded: its files' deploy errors are history. */
  clear(files: vscode.Uri[]): void {
    files.forEach((file) => this.collection.delete(file));
  }

  dispose(): void {
    this.listener.dispose();
    this.collection.dispose();
  }
}
