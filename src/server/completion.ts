/** Completion of machine types (cheapest first, with prices), class keywords and App attributes. */
import { type CompletionItem, CompletionItemKind, InsertReplaceEdit, InsertTextFormat, MarkupKind, type Range } from 'vscode-languageserver';
import {
  ATTRIBUTE_OPTIONS, describeHardware, formatUsd, KEYWORD_OPTIONS, machineTypesByPrice, type MachineType,
  optionSpec, runnerRate,
} from '../appconfig';
import type { Position } from '../pyparse';
import type { Analysis } from './analysis';
import { cursorContext } from './context';
import { machineTypeMarkdown } from './hover';

function machineTypeItem(type: MachineType, index: number, replace: Range, quoted: boolean): CompletionItem {
  const rate = runnerRate(type);
  return {
    label: type.name,
    kind: CompletionItemKind.EnumMember,
    labelDetails: { detail: ` ${type.kind === 'gpu' ? type.vramLabel : `${type.cpuCores} CPU`}`, description: `${formatUsd(rate.perHour)}/h` },
    detail: `${describeHardware(type)} · ${formatUsd(rate.perSecond)}/s · ${formatUsd(rate.perHour)}/h`,
    documentation: { kind: MarkupKind.Markdown, value: machineTypeMarkdown(type) },
    sortText: String(index).padStart(3, '0'),
    filterText: type.name,
    textEdit: { range: replace, newText: quoted ? type.name : JSON.stringify(type.name) },
  };
}

const MACHINE_TYPE_CHOICES = machineTypesByPrice().map((type) => type.name).join(',');

/**
 * Inserting stops at the cursor; replacing takes the rest of the word too. The editor's
 * insert mode chooses, so a name typed in front of another one does not swallow it.
 */
function optionItem(key: string, replace: Range, position: Position, style: 'keyword' | 'attribute'): CompletionItem {
  const spec = optionSpec(key)!;
  const value = key === 'machine_type' ? `"\${1|${MACHINE_TYPE_CHOICES}|}"` : `\${1:${spec.snippet.replace(/[$}\\]/g, '\\$&')}}`;
  return {
    label: key,
    kind: style === 'keyword' ? CompletionItemKind.Field : CompletionItemKind.Property,
    detail: spec.defaultText ? `default ${spec.defaultText}` : undefined,
    documentation: { kind: MarkupKind.Markdown, value: spec.doc },
    insertTextFormat: InsertTextFormat.Snippet,
    textEdit: InsertReplaceEdit.create(style === 'keyword' ? `${key}=${value}` : `${key} = ${value}`, { start: replace.start, end: position }, replace),
  };
}

export function completionsAt(analysis: Analysis, position: Position): CompletionItem[] {
  const context = cursorContext(analysis, position);
  switch (context?.kind) {
    case 'machine-type':
      return machineTypesByPrice().map((type, index) => machineTypeItem(type, index, context.replace, context.quoted));
    case 'class-keyword':
      return KEYWORD_OPTIONS.filter((key) => !context.used.has(key)).map((key) => optionItem(key, context.replace, position, 'keyword'));
    case 'class-attribute': {
      const set = new Set(context.app?.options.map((option) => option.key));
      return ATTRIBUTE_OPTIONS.filter((key) => !set.has(key)).map((key) => optionItem(key, context.replace, position, 'attribute'));
    }
    default:
      return [];
  }
}
