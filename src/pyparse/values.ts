/**
 * Static evaluation of the Python literals a configuration is written in. Anything it cannot
 * evaluate for certain (a name, a call, an f-string) becomes UNCHECKED, never a guess.
 */
import type { Node } from 'web-tree-sitter';
import { UNCHECKED, VolumeRef } from '../appconfig/input';
import { type FalBindings, isFalName } from './bindings';
import { type Range, rangeOf } from './range';

/** A value with the source range of it and of each of its parts. */
export interface ValueNode {
  value: unknown;
  range: Range;
  /** The elements of a list or tuple, in order. */
  items?: ValueNode[];
  /** The entries of a dict whose keys are string literals, in order. */
  entries?: DictEntry[];
}

export interface DictEntry {
  key: string;
  keyRange: Range;
  value: ValueNode;
}

const unchecked = (node: Node): ValueNode => ({ value: UNCHECKED, range: rangeOf(node) });

export function evaluate(node: Node, fal: FalBindings): ValueNode {
  const range = rangeOf(node);
  switch (node.type) {
    case 'integer':
      return { value: parseInteger(node.text), range };
    case 'float': {
      const text = node.text.replace(/_/g, '');
      return /[jJ]$/.test(text) ? unchecked(node) : { value: Number.parseFloat(text), range };
    }
    case 'true':
      return { value: true, range };
    case 'false':
      return { value: false, range };
    case 'none':
      return { value: null, range };
    case 'string':
    case 'concatenated_string': {
      const text = stringValue(node);
      return { value: text ?? UNCHECKED, range };
    }
    case 'parenthesized_expression': {
      const inner = node.namedChildren.find((child) => child !== null && child.type !== 'comment');
      return inner ? { ...evaluate(inner, fal), range } : unchecked(node);
    }
    case 'list':
    case 'tuple': {
      const items = namedChildren(node).map((child) => evaluate(child, fal));
      return { value: items.map((item) => item.value), range, items };
    }
    case 'dictionary':
      return evaluateDict(node, fal);
    case 'unary_operator': {
      const operand = node.childForFieldName('argument');
      const operator = node.childForFieldName('operator')?.text;
      const inner = operand ? evaluate(operand, fal) : undefined;
      if (typeof inner?.value !== 'number' || (operator !== '-' && operator !== '+')) return unchecked(node);
      return { value: operator === '-' ? -inner.value : inner.value, range };
    }
    case 'binary_operator':
      return evaluateArithmetic(node, fal);
    case 'call':
      return evaluateVolume(node, fal) ?? unchecked(node);
    default:
      return unchecked(node);
  }
}

function namedChildren(node: Node): Node[] {
  return node.namedChildren.filter((child): child is Node => child !== null && child.type !== 'comment');
}

function parseInteger(text: string): number | typeof UNCHECKED {
  const clean = text.replace(/_/g, '').toLowerCase();
  if (/[jl]$/.test(clean)) return UNCHECKED;
  const value = /^0[box]/.test(clean) ? Number(clean) : Number.parseInt(clean, 10);
  return Number.isSafeInteger(value) ? value : UNCHECKED;
}

function evaluateArithmetic(node: Node, fal: FalBindings): ValueNode {
  const left = node.childForFieldName('left');
  const right = node.childForFieldName('right');
  const operator = node.childForFieldName('operator')?.text;
  const range = rangeOf(node);
  const a = left ? evaluate(left, fal).value : UNCHECKED;
  const b = right ? evaluate(right, fal).value : UNCHECKED;
  if (typeof a !== 'number' || typeof b !== 'number') return { value: UNCHECKED, range };
  const results: Record<string, () => number> = {
    '+': () => a + b,
    '-': () => a - b,
    '*': () => a * b,
    '/': () => a / b,
    '//': () => Math.floor(a / b),
    '%': () => a - b * Math.floor(a / b),
    '**': () => a ** b,
  };
  const compute = operator ? results[operator] : undefined;
  if (!compute || ((operator === '/' || operator === '//' || operator === '%') && b === 0)) return { value: UNCHECKED, range };
  const value = compute();
  // Python's integers are unbounded: past 2**53 a double no longer holds the value written.
  const exact = Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value));
  return { value: exact ? value : UNCHECKED, range };
}

function evaluateDict(node: Node, fal: FalBindings): ValueNode {
  const value: Record<string, unknown> = {};
  const entries: DictEntry[] = [];
  for (const pair of namedChildren(node)) {
    if (pair.type !== 'pair') continue;
    const keyNode = pair.childForFieldName('key');
    const valueNode = pair.childForFieldName('value');
    const key = keyNode ? stringValue(keyNode) : undefined;
    if (!keyNode || !valueNode || key === undefined) continue;
    const evaluated = evaluate(valueNode, fal);
    value[key] = evaluated.value;
    entries.push({ key, keyRange: rangeOf(keyNode), value: evaluated });
  }
  return { value, range: rangeOf(node), entries };
}

/** `fal.Volume("name")`, `Volume("name")`, or `Volume(name="name")`. */
function evaluateVolume(node: Node, fal: FalBindings): ValueNode | undefined {
  const callee = node.childForFieldName('function');
  if (!callee || !isFalName(callee, 'Volume', fal)) return undefined;
  const args = node.childForFieldName('arguments');
  const argList = args ? namedChildren(args) : [];
  const first = argList.find((arg) => arg.type !== 'keyword_argument')
    ?? argList.find((arg) => arg.childForFieldName('name')?.text === 'name')?.childForFieldName('value');
  const name = first ? evaluate(first, fal).value : undefined;
  return { value: new VolumeRef(name), range: rangeOf(node) };
}

/** The value of a string literal, or undefined for f-strings with fields, bytes, errors, and `\N{…}`. */
export function stringValue(node: Node): string | undefined {
  if (node.type === 'concatenated_string') {
    const parts = namedChildren(node).map(stringValue);
    return parts.every((part) => part !== undefined) ? parts.join('') : undefined;
  }
  if (node.type !== 'string') return undefined;
  const start = node.children.find((child) => child?.type === 'string_start')?.text ?? '"';
  const prefix = start.replace(/["']+$/, '').toLowerCase();
  if (prefix.includes('b') || node.hasError) return undefined;
  const raw = prefix.includes('r');
  let text = '';
  for (const child of node.children) {
    if (child?.type === 'interpolation') return undefined;
    if (child?.type !== 'string_content') continue;
    const content = contentValue(child, raw);
    if (content === undefined) return undefined;
    text += content;
  }
  return text;
}

/**
 * The grammar nests escapes inside string_content (`\t`, and `{{` in f-strings), so the text
 * between them is taken as written and each escape is decoded.
 */
function contentValue(content: Node, raw: boolean): string | undefined {
  let text = '';
  let at = 0;
  for (const part of content.children) {
    if (!part) continue;
    const decoded = part.type === 'escape_sequence' ? (raw ? part.text : unescape(part.text))
      : part.type === 'escape_interpolation' ? part.text[0] : part.text;
    if (decoded === undefined) return undefined;
    text += content.text.slice(at, part.startIndex - content.startIndex) + decoded;
    at = part.endIndex - content.startIndex;
  }
  return text + content.text.slice(at);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\\\': '\\', "\\'": "'", '\\"': '"', '\\n': '\n', '\\t': '\t', '\\r': '\r', '\\0': '\0',
  '\\a': '\x07', '\\b': '\b', '\\f': '\f', '\\v': '\v', '\\\n': '', '\\\r\n': '',
};

function unescape(sequence: string): string | undefined {
  const simple = SIMPLE_ESCAPES[sequence];
  if (simple !== undefined) return simple;
  const hex = /^\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))$/.exec(sequence);
  if (hex) return String.fromCodePoint(Number.parseInt(hex[1] ?? hex[2] ?? hex[3]!, 16));
  const octal = /^\\([0-7]{1,3})$/.exec(sequence);
  if (octal) return String.fromCharCode(Number.parseInt(octal[1]!, 8));
  // \N{name} needs Unicode's name table: unknown rather than a guess.
  return sequence.startsWith('\\N{') ? undefined : sequence;
}
