import { type Diagnostic, DiagnosticSeverity } from 'vscode-languageserver';
import type { Severity } from '../appconfig';
import { type LocatedProblem, locatedProblems } from '../pyparse';
import type { Analysis } from './analysis';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
};

/** Identifies the problem a diagnostic came from, so a code action finds its fixes again. */
export interface DiagnosticData {
  className: string;
  problemIndex: number;
}

function toDiagnostic({ problem, problemIndex, app, range }: LocatedProblem): Diagnostic {
  const data: DiagnosticData = { className: app.className, problemIndex };
  return { range, severity: SEVERITY[problem.severity], code: problem.code, source: 'kiln', message: problem.message, data };
}

export function diagnosticsFor(analysis: Analysis): Diagnostic[] {
  return locatedProblems(analysis).map(toDiagnostic);
}
