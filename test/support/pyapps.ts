/**
 * The path every reader of an app takes, for tests: Python source -> tree-sitter -> extractApps
 * -> validateApp -> rangeOfTarget, plus the small text helpers the assertions need.
 */
import type { Parser } from 'web-tree-sitter';
import { type Problem, type ProblemCode, type ProblemTarget, type ValidationResult, validateApp } from '../../src/appconfig';
import { createPythonParser, type ExtractedApp, type ExtractedFile, extractApps, type Range, rangeOfTarget } from '../../src/pyparse';

let parser: Promise<Parser> | undefined;

export async function readFile(source: string): Promise<ExtractedFile> {
  parser ??= createPythonParser();
  const tree = (await parser).parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree');
  return extractApps(tree);
}

export interface Checked {
  source: string;
  app: ExtractedApp;
  result: ValidationResult;
  problems: Problem[];
  /** The problems with one code. */
  withCode(code: ProblemCode): Problem[];
  /** The source range a target maps to. */
  rangeOf(target: ProblemTarget): Range;
  /** The source text a target maps to. */
  textOf(target: ProblemTarget): string;
}

/** Reads the only App in `source` (or the one named) and validates it. */
export async function check(source: string, className?: string): Promise<Checked> {
  const file = await readFile(source);
  const app = className === undefined ? file.apps[0] : file.apps.find((candidate) => candidate.className === className);
  if (!app || (className === undefined && file.apps.length !== 1)) {
    throw new Error(`expected one App${className ? ` named ${className}` : ''}, found ${file.apps.map((a) => a.className).join(', ') || 'none'}`);
  }
  const result = validateApp(app.input);
  return {
    source,
    app,
    result,
    problems: result.problems,
    withCode: (code) => result.problems.filter((problem) => problem.code === code),
    rangeOf: (target) => rangeOfTarget(app, target),
    textOf: (target) => textIn(source, rangeOfTarget(app, target)),
  };
}

function offsetOf(source: string, position: Range['start']): number {
  const lines = source.split('\n');
  return lines.slice(0, position.line).reduce((sum, line) => sum + line.length + 1, 0) + position.character;
}

/** The text a range covers (positions in UTF-16 code units, as LSP and tree-sitter count). */
export function textIn(source: string, range: Range): string {
  return source.slice(offsetOf(source, range.start), offsetOf(source, range.end));
}

/** The source with `range` replaced by `text`: what an editor does with a replace fix. */
export function replaceIn(source: string, range: Range, text: string): string {
  return source.slice(0, offsetOf(source, range.start)) + text + source.slice(offsetOf(source, range.end));
}

/**
 * An App with one typed endpoint (so `no-endpoints` stays quiet), `body` as its first lines,
 * indented by four spaces. The class statement is line 2 (`class Demo(fal.App` is 18
 * characters, so a keyword given as `, key=value` starts at character 20); the body starts on line 3.
 */
export function appSource(body: string, keywords = ''): string {
  const indented = body.split('\n').map((line) => (line ? `    ${line}` : line)).join('\n');
  return `import fal

class Demo(fal.App${keywords}):
${indented}

    @fal.endpoint("/run")
    def run(self, prompt: str) -> str:
        return prompt
`;
}
