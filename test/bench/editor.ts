/**
 * Editor benchmarks, in process: how long the language server takes from text to diagnostics,
 * for a whole file and for one keystroke, and to answer completion; each beside tree-sitter
 * parsing the same text with nothing else done (the floor any analysis stands on).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Edit, type Parser, type Tree } from 'web-tree-sitter';
import { validateApp } from '../../src/appconfig';
import { createPythonParser, extractApps, type Position } from '../../src/pyparse';
import { AnalysisCache } from '../../src/server/analysis';
import { completionsAt } from '../../src/server/completion';
import { diagnosticsFor } from '../../src/server/diagnostics';
import { generateAppsFile } from './generatedApps';
import { measure, measureTogether, type SamplingPlan, type Summary } from './stats';
import { ms, ratio, type Table, verdict } from './table';

const ROOT = path.resolve(__dirname, '..', '..');

export interface EditorOptions {
  /** Multiplies every sampling budget (--long). */
  scale: number;
}

/** Targets from the performance issue: reported beside the numbers, never asserted. */
export const EDITOR_TARGETS = { maxRatioToParse: 2, maxSpecDiagnosticsMs: 5, maxCompletionMs: 10 };

type CompletionCase = 'machineType' | 'classKeyword' | 'classBody';

export interface CompletionResult extends Summary {
  /** Items returned: zero would mean the cursor was not where the case says. */
  items: number;
}

export interface EditorFileResult {
  label: string;
  source: string;
  lines: number;
  apps: number;
  diagnostics: number;
  /** parser.parse(text), nothing else. */
  bareParse: Summary;
  /** AnalysisCache.open (text -> tree -> apps -> validation) + diagnosticsFor. */
  fullDiagnostics: Summary;
  /** Where the full cycle's time goes beyond the parse, each phase alone on a parsed tree. */
  phases: { extractApps: Summary; validateApps: Summary; diagnosticsFor: Summary };
  /** One keystroke (typed, then deleted, alternately): tree.edit + parse with the old tree. */
  bareIncremental: Summary;
  /** The same keystroke through AnalysisCache.change + diagnosticsFor. */
  incrementalDiagnostics: Summary;
  keystroke: { className: string; line: number };
  completion: Record<CompletionCase, CompletionResult>;
  completionClass: string;
}

export interface EditorResults {
  files: EditorFileResult[];
}

interface Subject {
  label: string;
  source: string;
  text: string;
  /** The class whose machine_type gets the keystroke. */
  keystrokeClass: string;
  /** The class completion is asked about. */
  completionClass: string;
}

function plans(scale: number, lines: number): { fast: SamplingPlan; slow: SamplingPlan } {
  // A 5,000-line file costs tens of ms a cycle: fewer samples, same statistics.
  const large = lines > 1000;
  return {
    fast: { warmup: large ? 5 : 50, minSamples: large ? 30 : 200, maxSamples: 5_000 * scale, budgetMs: 1_500 * scale },
    slow: { warmup: large ? 5 : 50, minSamples: large ? 30 : 200, maxSamples: 5_000 * scale, budgetMs: 3_000 * scale },
  };
}

/** Lets a Ctrl-C in between measurements be handled: each measurement blocks the event loop. */
const pause = () => new Promise<void>((resolve) => setImmediate(resolve));

function parseOrThrow(parser: Parser, text: string, previous?: Tree): Tree {
  const tree = parser.parse(text, previous);
  if (!tree) throw new Error('tree-sitter returned no tree');
  return tree;
}

function lineIndex(lines: string[], pattern: RegExp, from = 0): number {
  const index = lines.findIndex((line, at) => at >= from && pattern.test(line));
  if (index < 0) throw new Error(`no line matches ${pattern}`);
  return index;
}

/** The position of the closing quote of the class's first `machine_type = "..."`. */
function machineTypeEnd(text: string, className: string): Position {
  const lines = text.split('\n');
  const header = lineIndex(lines, new RegExp(`^class ${className}\\(`));
  const line = lineIndex(lines, /^\s+machine_type = "[^"]*"/, header);
  return { line, character: lines[line]!.lastIndexOf('"') };
}

/**
 * The text with the three places completion is asked about, in one class: an emptied
 * `machine_type = "|"`, a header with room for another keyword `(fal.App, k=1, |)`, and a
 * fresh indented line in the body.
 */
function completionDocument(text: string, className: string): { text: string; positions: Record<CompletionCase, Position> } {
  const lines = text.split('\n');
  const header = lineIndex(lines, new RegExp(`^class ${className}\\(.*\\):`));
  lines[header] = lines[header]!.replace(/\):(.*)$/, ', ):$1');
  const classKeyword = { line: header, character: lines[header]!.indexOf(', ):') + 2 };
  const machineLine = lineIndex(lines, /^\s+machine_type = /, header);
  const indent = /^\s+/.exec(lines[machineLine]!)![0];
  lines[machineLine] = `${indent}machine_type = ""`;
  const machineType = { line: machineLine, character: lines[machineLine]!.length - 1 };
  lines.splice(machineLine + 1, 0, indent);
  const classBody = { line: machineLine + 1, character: indent.length };
  return { text: lines.join('\n'), positions: { machineType, classKeyword, classBody } };
}

function keystrokeEdits(at: Position): { insert: TextDocumentContentChangeEvent; remove: TextDocumentContentChangeEvent } {
  const after = { line: at.line, character: at.character + 1 };
  return {
    insert: { range: { start: at, end: at }, text: '0' },
    remove: { range: { start: at, end: after }, text: '' },
  };
}

function treeEdit(document: TextDocument, change: TextDocumentContentChangeEvent): Edit {
  if (!('range' in change)) throw new Error('keystrokes are ranged changes');
  const { start, end } = change.range;
  const startIndex = document.offsetAt(start);
  return new Edit({
    startIndex,
    oldEndIndex: document.offsetAt(end),
    newEndIndex: startIndex + change.text.length,
    startPosition: { row: start.line, column: start.character },
    oldEndPosition: { row: end.line, column: end.character },
    newEndPosition: { row: start.line, column: start.character + change.text.length },
  });
}

async function benchFile(subject: Subject, options: EditorOptions): Promise<EditorFileResult> {
  const bareParser = await createPythonParser();
  const cache = new AnalysisCache(await createPythonParser());
  const { text } = subject;
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  const { fast, slow } = plans(options.scale, lines);
  const uri = `file:///bench/${subject.label}.py`;
  let version = 1;

  // The whole file: the bare parse, the full cycle, and each phase beyond the parse alone on a
  // tree parsed once (a document of its own), so the cost beyond tree-sitter has names.
  const parsed = cache.open(`${uri}-phases`, 'python', 1, text);
  let bareTree: Tree | undefined;
  const whole = measureTogether({
    bareParse: { run: () => { bareTree = parseOrThrow(bareParser, text); }, after: () => bareTree!.delete() },
    fullDiagnostics: { run: () => { diagnosticsFor(cache.open(uri, 'python', version++, text)); }, after: () => cache.close(uri) },
    extractApps: { run: () => { extractApps(parsed.tree); } },
    validateApps: { run: () => { parsed.file.apps.forEach((app) => validateApp(app.input)); } },
    diagnosticsFor: { run: () => { diagnosticsFor(parsed); } },
  }, slow);
  const diagnostics = diagnosticsFor(parsed).length;
  cache.close(`${uri}-phases`);
  await pause();

  // One keystroke in a machine_type value ("GPU-A100" -> "GPU-A1000"), then its backspace; the
  // bare parser and the cache each take every step in turn, from the same text.
  const at = machineTypeEnd(text, subject.keystrokeClass);
  const original = TextDocument.create(uri, 'python', 0, text);
  const { insert, remove } = keystrokeEdits(at);
  const typed = TextDocument.update(TextDocument.create(uri, 'python', 0, text), [insert], 1);
  const steps = [
    { change: insert, edit: treeEdit(original, insert), text: typed.getText() },
    { change: remove, edit: treeEdit(typed, remove), text },
  ];
  let bareStep = 0;
  let bareCurrent = parseOrThrow(bareParser, text);
  let bareNext: Tree | undefined;
  let cacheStep = 0;
  cache.open(uri, 'python', version++, text);
  const keystroke = measureTogether({
    bareIncremental: {
      run: () => {
        const { edit, text: newText } = steps[bareStep % 2]!;
        bareCurrent.edit(edit);
        bareNext = parseOrThrow(bareParser, newText, bareCurrent);
      },
      after: () => {
        bareCurrent.delete();
        bareCurrent = bareNext!;
        bareStep++;
      },
    },
    incrementalDiagnostics: {
      run: () => { diagnosticsFor(cache.change(uri, version++, [steps[cacheStep % 2]!.change])!); },
      after: () => { cacheStep++; },
    },
  }, fast);
  const expected = cacheStep % 2 === 0 ? text : steps[0]!.text;
  if (cache.get(uri)!.document.getText() !== expected || bareCurrent.rootNode.text !== expected) {
    throw new Error('the keystrokes did not leave the text they should have');
  }
  bareCurrent.delete();
  cache.close(uri);
  await pause();

  const completion = benchCompletion(cache, subject, fast);
  bareParser.delete();
  return {
    label: subject.label,
    source: subject.source,
    lines,
    apps: parsed.file.apps.length,
    diagnostics,
    bareParse: whole.bareParse,
    fullDiagnostics: whole.fullDiagnostics,
    phases: { extractApps: whole.extractApps, validateApps: whole.validateApps, diagnosticsFor: whole.diagnosticsFor },
    bareIncremental: keystroke.bareIncremental,
    incrementalDiagnostics: keystroke.incrementalDiagnostics,
    keystroke: { className: subject.keystrokeClass, line: at.line + 1 },
    completion,
    completionClass: subject.completionClass,
  };
}

function benchCompletion(cache: AnalysisCache, subject: Subject, plan: SamplingPlan): Record<CompletionCase, CompletionResult> {
  const uri = `file:///bench/${subject.label}-completion.py`;
  const { text, positions } = completionDocument(subject.text, subject.completionClass);
  const analysis = cache.open(uri, 'python', 1, text);
  const result = {} as Record<CompletionCase, CompletionResult>;
  for (const [name, position] of Object.entries(positions) as [CompletionCase, Position][]) {
    const items = completionsAt(analysis, position).length;
    // A cursor the server does not recognise answers [] at once: that would time nothing.
    if (items === 0) throw new Error(`completion at ${name} (${position.line + 1}:${position.character}) in ${subject.label} returned nothing`);
    result[name] = { ...measure({ run: () => { completionsAt(analysis, position); } }, plan), items };
  }
  cache.close(uri);
  return result;
}

export async function runEditorBench(options: EditorOptions): Promise<EditorResults> {
  const specPath = path.join(ROOT, 'test', 'fixtures', 'spec_examples.py');
  const generated = generateAppsFile(50, 5000);
  const subjects: Subject[] = [
    {
      label: 'spec-examples',
      source: path.relative(ROOT, specPath),
      text: readFileSync(specPath, 'utf8'),
      keystrokeClass: 'ModelWithStorage',
      completionClass: 'TextToImage',
    },
    {
      label: 'generated-5000',
      source: 'generateAppsFile(50, 5000) in test/bench/generatedApps.ts',
      text: generated.text,
      keystrokeClass: generated.classNames[Math.floor(generated.classNames.length / 2)]!,
      completionClass: generated.classNames.at(-1)!,
    },
  ];
  const files: EditorFileResult[] = [];
  for (const subject of subjects) files.push(await benchFile(subject, options));
  return { files };
}

// ---- tables ---------------------------------------------------------------------------------

const COMPLETION_LABELS: Record<CompletionCase, string> = {
  machineType: 'completion in machine_type = "|"',
  classKeyword: 'completion in class header (fal.App, k=1, |)',
  classBody: 'completion at a fresh line of the class body',
};

export function editorTables(results: EditorResults): Table[] {
  return results.files.map((file) => {
    const isSpec = file.label === 'spec-examples';
    const parse = file.bareParse.medianMs;
    const incremental = file.bareIncremental.medianMs;
    const diagnosticsTarget = (summary: Summary, floor: number): [string, string] => {
      if (!isSpec) return ['', ''];
      const met = summary.medianMs / floor <= EDITOR_TARGETS.maxRatioToParse && summary.medianMs < EDITOR_TARGETS.maxSpecDiagnosticsMs;
      return [`≤${EDITOR_TARGETS.maxRatioToParse}x, <${EDITOR_TARGETS.maxSpecDiagnosticsMs} ms`, verdict(met)];
    };
    const row = (label: string, summary: Summary, floor: number | null, target: [string, string] = ['', '']) =>
      [label, ms(summary.medianMs), ms(summary.p95Ms), floor === null ? '—' : ratio(summary.medianMs / floor), String(summary.samples), ...target];
    return {
      title: `Editor: ${file.label} (${file.source}; ${file.lines.toLocaleString('en-US')} lines, ${file.apps} apps, ${file.diagnostics} diagnostics)`,
      head: ['measurement', 'median ms', 'p95 ms', 'vs bare', 'runs', 'target', 'met'],
      rows: [
        row('bare parse: parser.parse(text)', file.bareParse, parse),
        row('full cycle: open + diagnosticsFor', file.fullDiagnostics, parse, diagnosticsTarget(file.fullDiagnostics, parse)),
        row('  of which extractApps', file.phases.extractApps, parse),
        row('  of which validateApp, every app', file.phases.validateApps, parse),
        row('  of which diagnosticsFor', file.phases.diagnosticsFor, parse),
        row('bare keystroke: tree.edit + parse(old tree)', file.bareIncremental, incremental),
        row('keystroke: AnalysisCache.change + diagnosticsFor', file.incrementalDiagnostics, incremental, diagnosticsTarget(file.incrementalDiagnostics, incremental)),
        ...(Object.keys(COMPLETION_LABELS) as CompletionCase[]).map((name) => {
          const summary = file.completion[name];
          return row(`${COMPLETION_LABELS[name]} (${summary.items} items)`, summary, null,
            [`<${EDITOR_TARGETS.maxCompletionMs} ms`, verdict(summary.medianMs < EDITOR_TARGETS.maxCompletionMs)]);
        }),
      ],
      notes: [
        `keystroke: "0" typed before the closing quote of ${file.keystroke.className}.machine_type (line ${file.keystroke.line}), then deleted; samples alternate.`,
        `completion asked in class ${file.completionClass}; "vs bare" is the median over the bare parse (full rows) or the bare keystroke (keystroke row).`,
      ],
    };
  });
}
