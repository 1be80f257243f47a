/** Quick fixes: the fixes validation proposes, turned into text edits on this document. */
import { type CodeAction, CodeActionKind, type Diagnostic, type TextEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Fix } from '../appconfig';
import { type ExtractedApp, findOption, type Range, rangeOfTarget } from '../pyparse';
import type { Analysis } from './analysis';
import type { DiagnosticData } from './diagnostics';

export function codeActionsFor(analysis: Analysis, diagnostics: Diagnostic[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const diagnostic of diagnostics) {
    if (diagnostic.source !== 'kiln') continue;
    const data = diagnostic.data as DiagnosticData | undefined;
    const analysed = analysis.apps.find((candidate) => candidate.app.className === data?.className);
    const problem = data ? analysed?.validation.problems[data.problemIndex] : undefined;
    // A diagnostic from an older version of the text no longer matches; offer nothing for it.
    if (!analysed || !problem || problem.code !== diagnostic.code) continue;
    const fixes = problem.fixes ?? [];
    for (const fix of fixes) {
      const edits = editsFor(fix, analysed.app, analysis.document);
      if (!edits.length) continue;
      actions.push({
        title: fix.title,
        kind: CodeActionKind.QuickFix,
        diagnostics: [diagnostic],
        isPreferred: fixes.length === 1,
        edit: { changes: { [analysis.document.uri]: edits } },
      });
    }
  }
  return actions;
}

function textAt(document: TextDocument, range: Range): string {
  return document.getText(range);
}

/** Keeps the user's quote style when a fix replaces one string literal with another. */
function matchQuotes(original: string, replacement: string): string {
  if (!original.startsWith("'") || !replacement.startsWith('"')) return replacement;
  return `'${JSON.parse(replacement).replace(/'/g, "\\'")}'`;
}

export function editsFor(fix: Fix, app: ExtractedApp, document: TextDocument): TextEdit[] {
  switch (fix.kind) {
    case 'replace': {
      const range = rangeOfTarget(app, fix.target);
      return [{ range, newText: matchQuotes(textAt(document, range), fix.text) }];
    }
    case 'swap-values': {
      const first = rangeOfTarget(app, fix.first);
      const second = rangeOfTarget(app, fix.second);
      return [
        { range: first, newText: textAt(document, second) },
        { range: second, newText: textAt(document, first) },
      ];
    }
    case 'remove':
      return [{ range: withSeparator(document, rangeOfTarget(app, fix.target)), newText: '' }];
    case 'move-env-to-secrets':
      return moveEnvToSecrets(fix.envKey, app, document);
  }
}

/**
 * Widens an element of a list or dict to take its comma with it: the one after it, or when it
 * is the last element, the one before it.
 */
function withSeparator(document: TextDocument, range: Range): Range {
  const text = document.getText();
  const start = document.offsetAt(range.start);
  const end = document.offsetAt(range.end);
  const after = /^\s*,[ \t]*/.exec(text.slice(end));
  if (after) return { start: range.start, end: document.positionAt(end + after[0].length) };
  const before = /,\s*$/.exec(text.slice(0, start));
  if (before) return { start: document.positionAt(start - before[0].length), end: range.end };
  return range;
}

function moveEnvToSecrets(envKey: string, app: ExtractedApp, document: TextDocument): TextEdit[] {
  const env = findOption(app, 'env', 'attribute');
  const entry = env?.value.entries?.find((candidate) => candidate.key === envKey);
  if (!env || !entry) return [];
  const removeEntry: TextEdit = {
    range: withSeparator(document, { start: entry.keyRange.start, end: entry.value.range.end }),
    newText: '',
  };
  const quoted = JSON.stringify(envKey);
  const secrets = findOption(app, 'secrets', 'attribute');
  if (secrets?.value.items) {
    const listEnd = secrets.value.range.end;
    const insertAt = { line: listEnd.line, character: listEnd.character - 1 };
    const lastItem = secrets.value.items.at(-1);
    const trailingComma = lastItem ? /^\s*,/.test(document.getText({ start: lastItem.range.end, end: insertAt })) : false;
    const newText = !lastItem ? quoted : trailingComma ? ` ${quoted}` : `, ${quoted}`;
    return [removeEntry, { range: { start: insertAt, end: insertAt }, newText }];
  }
  if (secrets) return [];
  const after = env.statementRange.end;
  return [removeEntry, { range: { start: after, end: after }, newText: `\n${app.bodyIndent}secrets = [${quoted}]` }];
}
