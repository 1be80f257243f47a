/** Reading and validating in one step: what the language server and `kiln check` both report. */
import type { Tree } from 'web-tree-sitter';
import { type Problem, validateApp, type ValidationResult } from '../appconfig';
import type { FalBindings } from './bindings';
import { type ExtractedApp, type ExtractedFile, extractApps } from './extract';
import { rangeOfTarget } from './locate';
import type { Range } from './range';
import { appAfterEdit, type LineEdit } from './shift';

export interface CheckedApp {
  app: ExtractedApp;
  validation: ValidationResult;
}

export interface CheckedFile {
  file: ExtractedFile;
  apps: CheckedApp[];
}

export interface LocatedProblem {
  problem: Problem;
  /** Its index in the app's problem list, which identifies it while the text is unchanged. */
  problemIndex: number;
  app: ExtractedApp;
  range: Range;
}

function sameBindings(a: FalBindings, b: FalBindings): boolean {
  const members = (bindings: FalBindings) => JSON.stringify([...bindings.members].map(([member, aliases]) => [member, [...aliases].sort()]).sort());
  return a.wildcard === b.wildcard && [...a.modules].sort().join() === [...b.modules].sort().join() && members(a) === members(b);
}

function sameRange(a: Range, b: Range): boolean {
  return a.start.line === b.start.line && a.start.character === b.start.character && a.end.line === b.end.line && a.end.character === b.end.character;
}

/**
 * Reads and validates every app of a tree. Given the previous version's result and the one edit
 * between them, apps the edit did not touch are reused with their validation, so a keystroke
 * costs one app's reading, not the whole file's.
 */
export function checkTree(tree: Tree, previous?: { checked: CheckedFile; edit: LineEdit }): CheckedFile {
  const reused = new Map<ExtractedApp, ValidationResult>();
  const candidates = previous?.checked.apps.flatMap(({ app, validation }) => {
    const moved = appAfterEdit(app, previous.edit);
    return moved ? [{ app: moved, validation }] : [];
  }) ?? [];
  const reuse = (range: Range, fal: FalBindings) => {
    if (!previous || !sameBindings(fal, previous.checked.file.fal)) return undefined;
    const found = candidates.find((candidate) => sameRange(candidate.app.range, range));
    if (found) reused.set(found.app, found.validation);
    return found?.app;
  };
  const file = extractApps(tree, reuse);
  return { file, apps: file.apps.map((app) => ({ app, validation: reused.get(app) ?? validateApp(app.input) })) };
}

export function locatedProblems(checked: CheckedFile): LocatedProblem[] {
  return checked.apps.flatMap(({ app, validation }) =>
    validation.problems.map((problem, problemIndex) => ({ problem, problemIndex, app, range: rangeOfTarget(app, problem.target) })));
}
