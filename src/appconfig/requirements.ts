/**
 * PEP 508 requirement strings: enough of the grammar to tell a pip-installable line from a
 * typo, and to know a requirement's normalised name and whether it is pinned.
 */

export interface Requirement {
  /** PEP 503 normalised: lower case, runs of `-_.` as one `-`. */
  name: string;
  extras: string[];
  specifiers: { operator: string; version: string }[];
  url?: string;
  marker?: string;
}

export type RequirementResult = { ok: true; requirement: Requirement } | { ok: false; message: string };

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/;
const OPERATOR = /^(===|~=|==|!=|<=|>=|<|>)/;
// PEP 440 public versions (with the local part), plus the trailing `.*` that == and != allow.
const VERSION = /^v?(?:\d+!)?\d+(?:\.\d+)*(?:[-_.]?(?:a|b|rc|alpha|beta|c|pre|preview)[-_.]?\d*)?(?:(?:-\d+)|(?:[-_.]?(?:post|rev|r)[-_.]?\d*))?(?:[-_.]?dev[-_.]?\d*)?(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$/i;

export function normaliseName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export function parseRequirement(text: string): RequirementResult {
  const fail = (message: string): RequirementResult => ({ ok: false, message });
  let rest = text.trim();
  if (rest === '') return fail('is empty; write a package name such as "numpy" or "numpy==2.1.3"');
  if (/^(-|git\+|https?:|\.|\/)/.test(rest)) {
    return fail('is a pip option or a bare path/URL; write "name @ URL" for a direct reference');
  }

  const nameMatch = NAME.exec(rest);
  if (!nameMatch) return fail(`does not start with a package name ("${rest}")`);
  const name = nameMatch[0];
  rest = rest.slice(name.length).trimStart();

  let extras: string[] = [];
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return fail('has an unclosed "[" in its extras');
    extras = rest.slice(1, close).split(',').map((extra) => extra.trim()).filter(Boolean);
    const badExtra = extras.find((extra) => !NAME.test(extra) || NAME.exec(extra)![0] !== extra);
    if (badExtra !== undefined) return fail(`has an invalid extra "${badExtra}"`);
    rest = rest.slice(close + 1).trimStart();
  }

  let marker: string | undefined;
  const semicolon = rest.indexOf(';');
  if (semicolon >= 0) {
    marker = rest.slice(semicolon + 1).trim();
    rest = rest.slice(0, semicolon).trim();
    if (marker === '') return fail('has an empty environment marker after ";"');
  }

  if (rest.startsWith('@')) {
    const url = rest.slice(1).trim();
    if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(url)) return fail(`has "@" without a valid URL after it`);
    return { ok: true, requirement: { name: normaliseName(name), extras, specifiers: [], url, ...(marker ? { marker } : {}) } };
  }

  const specifiers: Requirement['specifiers'] = [];
  const inner = rest.startsWith('(') && rest.endsWith(')') ? rest.slice(1, -1) : rest;
  if (inner.trim() !== '') {
    for (const clause of inner.split(',')) {
      const part = clause.trim();
      const operatorMatch = OPERATOR.exec(part);
      if (!operatorMatch) {
        const hint = /^=[^=]/.test(part) ? ` (use "==" for an exact version)` : '';
        return fail(`has an invalid version specifier "${part}"${hint}`);
      }
      const operator = operatorMatch[1]!;
      const version = part.slice(operator.length).trim();
      const wildcard = version.endsWith('.*') && (operator === '==' || operator === '!=');
      const valid = operator === '===' ? version !== '' : VERSION.test(wildcard ? version.slice(0, -2) : version);
      if (!valid) return fail(`has an invalid version "${version}" after "${operator}"`);
      // PEP 440: "~=1" has no meaning ("compatible with 1.*" needs a second segment to keep).
      if (operator === '~=' && !/^v?(?:\d+!)?\d+\.\d+/i.test(version)) {
        return fail(`has "~=${version}", which needs at least two version parts (e.g. "~=${version}.0")`);
      }
      specifiers.push({ operator, version });
    }
  }
  return { ok: true, requirement: { name: normaliseName(name), extras, specifiers, ...(marker ? { marker } : {}) } };
}

/** Pinned means one exact version or a direct URL: the same environment every build. */
export function isPinned(requirement: Requirement): boolean {
  return requirement.url !== undefined
    || requirement.specifiers.some((spec) => (spec.operator === '==' && !spec.version.endsWith('.*')) || spec.operator === '===');
}
