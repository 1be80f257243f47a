/**
 * Reusing what was read from a class an edit did not touch: the same facts, with every range
 * moved by the lines the edit added or removed above it.
 */
import type { ExtractedApp } from './extract';
import type { Position, Range } from './range';
import type { ValueNode } from './values';

/** One text change in lines: rows start..oldEnd became rows start..newEnd. */
export interface LineEdit {
  startLine: number;
  oldEndLine: number;
  newEndLine: number;
}

function shiftPosition(position: Position, delta: number): Position {
  return { line: position.line + delta, character: position.character };
}

function shiftRange(range: Range, delta: number): Range {
  return { start: shiftPosition(range.start, delta), end: shiftPosition(range.end, delta) };
}

function shiftValue(value: ValueNode, delta: number): ValueNode {
  return {
    ...value,
    range: shiftRange(value.range, delta),
    ...(value.items ? { items: value.items.map((item) => shiftValue(item, delta)) } : {}),
    ...(value.entries ? { entries: value.entries.map((entry) => ({ ...entry, keyRange: shiftRange(entry.keyRange, delta), value: shiftValue(entry.value, delta) })) } : {}),
  };
}

/**
 * The app as it reads after the edit, when the edit lies wholly above or below it; undefined
 * when the edit touches its lines and it must be read again.
 */
export function appAfterEdit(app: ExtractedApp, edit: LineEdit): ExtractedApp | undefined {
  if (app.range.end.line < edit.startLine) return app;
  if (app.range.start.line <= edit.oldEndLine) return undefined;
  const delta = edit.newEndLine - edit.oldEndLine;
  if (delta === 0) return app;
  return {
    ...app,
    classNameRange: shiftRange(app.classNameRange, delta),
    range: shiftRange(app.range, delta),
    superclassesRange: shiftRange(app.superclassesRange, delta),
    bodyStart: shiftPosition(app.bodyStart, delta),
    options: app.options.map((option) => ({
      ...option,
      keyRange: shiftRange(option.keyRange, delta),
      statementRange: shiftRange(option.statementRange, delta),
      value: shiftValue(option.value, delta),
    })),
    endpoints: app.endpoints.map((endpoint) => ({
      ...endpoint,
      pathRange: shiftRange(endpoint.pathRange, delta),
      functionNameRange: shiftRange(endpoint.functionNameRange, delta),
      range: shiftRange(endpoint.range, delta),
      parameters: endpoint.parameters.map((parameter) => ({ ...parameter, range: shiftRange(parameter.range, delta) })),
    })),
    methods: app.methods.map((method) => ({ ...method, nameRange: shiftRange(method.nameRange, delta) })),
  };
}
