/** Reading and validating in one step: what the language server and `kiln check` both report. */
import type { Tree } from 'web-tree-sitter';
import { type Problem, validateApp, type ValidationResult } from '../appconfig';
import { type ExtractedApp, type ExtractedFile, extractApps } from './extract';
import { rangeOfTarget } from './locate';
import type { Range } from './range';

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

export function checkTree(tree: Tree): CheckedFile {
  const file = extractApps(tree);
  return { file, apps: file.apps.map((app) => ({ app, validation: validateApp(app.input) })) };
}

export function locatedProblems(checked: CheckedFile): LocatedProblem[] {
  return checked.apps.flatMap(({ app, validation }) =>
    validation.problems.map((problem, problemIndex) => ({ problem, problemIndex, app, range: rangeOfTarget(app, problem.target) })));
}
