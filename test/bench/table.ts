/** Plain-text tables for the terminal, and the number formats every benchmark group shares. */

export interface Table {
  title: string;
  head: string[];
  rows: string[][];
  /** Lines printed under the table: how it was measured, what a number means. */
  notes?: string[];
}

const NUMERIC = /^[-+~<>≤≥]?[\d.,]+\s*(ms|x|%|s)?$|^—$/;

export function renderTable(table: Table): string {
  const widths = table.head.map((cell, column) => Math.max(cell.length, ...table.rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => {
    // Numbers right-aligned so the digits line up; words left-aligned.
    const alignRight = column > 0 && NUMERIC.test(cell);
    return alignRight ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!);
  }).join('  ').trimEnd();
  const rule = widths.map((width) => '-'.repeat(width)).join('  ');
  return [
    table.title,
    line(table.head),
    rule,
    ...table.rows.map(line),
    ...(table.notes ?? []).map((note) => `  ${note}`),
  ].join('\n');
}

/** Milliseconds with precision that suits their size: 0.042, 1.73, 64.2, 1,204. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (value < 1) return value.toFixed(3);
  if (value < 10) return value.toFixed(2);
  if (value < 1000) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

export function ratio(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(2)}x`;
}

export function count(value: number | null | undefined): string {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : Math.round(value).toLocaleString('en-US');
}

/** A target's verdict as the tables show it. */
export function verdict(met: boolean | null): string {
  return met === null ? '' : met ? 'yes' : 'NO';
}
