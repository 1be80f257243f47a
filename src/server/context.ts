/**
 * Where the cursor is in App terms: in a machine_type string, in a class header's keywords, or
 * at a fresh statement of an App class body. Completion and hover ask this. The syntax tree
 * answers for well-formed code; the current line's text answers while it is still being typed.
 */
import type { Node } from 'web-tree-sitter';
import type { FalBindings } from '../pyparse';
import { type ExtractedApp, type Position, type Range, rangeContains, rangeOf } from '../pyparse';
import type { Analysis } from './analysis';

export type CursorContext =
  | { kind: 'machine-type'; app?: ExtractedApp; replace: Range; quoted: boolean }
  | { kind: 'class-keyword'; used: Set<string>; replace: Range }
  | { kind: 'class-attribute'; app?: ExtractedApp; replace: Range };

export function appAt(analysis: Analysis, position: Position): ExtractedApp | undefined {
  return analysis.file.apps.find((app) => rangeContains(app.range, position));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches an App base class as this file spells it: `fal.App`, `f.App`, `App`, `Base`. */
function appReference(fal: FalBindings): RegExp {
  const names = [...fal.modules].map((module) => `${escapeRegExp(module)}\\s*\\.\\s*App`);
  names.push(...[...(fal.members.get('App') ?? [])].map(escapeRegExp));
  if (fal.wildcard) names.push('App');
  return new RegExp(`(^|[\\s(,])(${names.join('|') || '(?!)'})\\s*(,|\\)|$)`);
}

const CLASS_HEADER = /^\s*class\s+\w+\s*\((.*)$/;

function lineText(analysis: Analysis, line: number): string {
  return analysis.document.getText({ start: { line, character: 0 }, end: { line: line + 1, character: 0 } }).replace(/\r?\n$/, '');
}

/** The class whose body the line sits in, judged by indentation: its header line, or undefined. */
function enclosingClassHeader(analysis: Analysis, line: number, indent: number): string | undefined {
  for (let row = line - 1; row >= 0; row--) {
    const text = lineText(analysis, row);
    if (text.trim() === '' || text.trimStart().startsWith('#')) continue;
    const rowIndent = text.length - text.trimStart().length;
    if (rowIndent >= indent) continue;
    return CLASS_HEADER.test(text) ? text : undefined;
  }
  return undefined;
}

function wordRangeAround(analysis: Analysis, position: Position, before: string): Range {
  const rest = lineText(analysis, position.line).slice(position.character);
  const after = /^[\w-]*/.exec(rest)![0];
  return {
    start: { line: position.line, character: position.character - before.length },
    end: { line: position.line, character: position.character + after.length },
  };
}

/** A string node at the cursor whose assignment target is `machine_type` (directly or in a list). */
function machineTypeStringNode(analysis: Analysis, position: Position): Node | undefined {
  let node: Node | null = analysis.tree.rootNode.descendantForPosition({ row: position.line, column: position.character });
  while (node && node.type !== 'string') {
    if (node.type === 'block' || node.type === 'module') return undefined;
    node = node.parent;
  }
  if (!node) return undefined;
  const holder = node.parent?.type === 'list' ? node.parent.parent : node.parent;
  if (holder?.type !== 'assignment' || holder.childForFieldName('left')?.text !== 'machine_type') return undefined;
  return node;
}

export function cursorContext(analysis: Analysis, position: Position): CursorContext | undefined {
  const app = appAt(analysis, position);
  const node = app ? machineTypeStringNode(analysis, position) : undefined;
  if (node) {
    const content = rangeOf(node);
    const quote = node.children[0]?.text.length ?? 1;
    return {
      kind: 'machine-type',
      app,
      quoted: true,
      replace: { start: { line: content.start.line, character: content.start.character + quote }, end: { line: content.end.line, character: Math.max(content.start.character + quote, content.end.character - 1) } },
    };
  }

  const prefix = lineText(analysis, position.line).slice(0, position.character);
  const indent = prefix.length - prefix.trimStart().length;
  const header = CLASS_HEADER.exec(prefix);
  if (header) {
    const args = header[1]!;
    const current = /(?:^|,)\s*(\w*)$/.exec(args);
    if (!current || !appReference(analysis.file.fal).test(args.slice(0, args.length - current[0].length) + ',')) return undefined;
    const replace = wordRangeAround(analysis, position, current[1]!);
    // Keywords after the cursor count too: offering one again would repeat it, a SyntaxError.
    const after = lineText(analysis, position.line).slice(replace.end.character);
    const used = new Set([args, after].flatMap((text) => [...text.matchAll(/(\w+)\s*=/g)].map((match) => match[1]!)));
    return { kind: 'class-keyword', used, replace };
  }

  const classHeader = indent > 0 ? enclosingClassHeader(analysis, position.line, indent) : undefined;
  if (!classHeader || !appReference(analysis.file.fal).test(CLASS_HEADER.exec(classHeader)![1]!)) return undefined;
  const typing = /\bmachine_type\s*(?::[^=]*)?=\s*(\[[^\]]*)?(["']?)([\w-]*)$/.exec(prefix);
  if (typing) {
    return { kind: 'machine-type', app, quoted: typing[2] !== '', replace: wordRangeAround(analysis, position, typing[3]!) };
  }
  const statement = /^\s+(\w*)$/.exec(prefix);
  if (statement) return { kind: 'class-attribute', app, replace: wordRangeAround(analysis, position, statement[1]!) };
  return undefined;
}
