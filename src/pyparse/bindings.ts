/**
 * How this file names fal: `import fal`, `import fal as f`, `from fal import App as Base`.
 * Everything else in pyparse asks these bindings instead of matching the text "fal".
 */
import type { Node } from 'web-tree-sitter';

export interface FalBindings {
  /** Names bound to the fal module itself. */
  modules: Set<string>;
  /** Names bound directly to a member of fal, by member: `{"App" -> {"App", "Base"}}`. */
  members: Map<string, Set<string>>;
  /** `from fal import *` binds every member under its own name. */
  wildcard: boolean;
}

/** Modules whose members count as fal's own. */
const FAL_MODULES = new Set(['fal', 'fal.app', 'fal.api']);

const IMPORT_STATEMENTS: readonly string[] = ['import_statement', 'import_from_statement'];

/** Statements that hold blocks of module-level code (`if TYPE_CHECKING:`, `try: import fal`). */
const COMPOUND = new Set(['if_statement', 'elif_clause', 'else_clause', 'try_statement', 'except_clause', 'finally_clause',
  'with_statement', 'for_statement', 'while_statement', 'block', 'decorated_definition', 'ERROR']);

/**
 * The module's own statements: those at the top level and inside its compound statements, but
 * not inside functions or class bodies. Visiting these instead of every node of the tree is what
 * keeps reading a file cheap next to parsing it. ERROR regions are entered, so a half-typed
 * file still yields its classes.
 */
export function* moduleStatements(node: Node): Generator<Node> {
  for (const child of node.namedChildren) {
    if (COMPOUND.has(child.type)) yield* moduleStatements(child);
    else yield child;
  }
}

/** The bindings the import statements among these statements make. */
export function bindingsOf(statements: Iterable<Node>): FalBindings {
  const bindings: FalBindings = { modules: new Set(), members: new Map(), wildcard: false };
  const bindMember = (member: string, alias: string) => {
    if (!bindings.members.has(member)) bindings.members.set(member, new Set());
    bindings.members.get(member)!.add(alias);
  };
  for (const statement of statements) {
    if (!IMPORT_STATEMENTS.includes(statement.type)) continue;
    if (statement.type === 'import_statement') {
      for (const imported of statement.childrenForFieldName('name')) {
        if (!imported) continue;
        if (imported.type === 'dotted_name' && (imported.text === 'fal' || imported.text.startsWith('fal.'))) {
          bindings.modules.add('fal');
        } else if (imported.type === 'aliased_import' && imported.childForFieldName('name')?.text === 'fal') {
          const alias = imported.childForFieldName('alias')?.text;
          if (alias) bindings.modules.add(alias);
        }
      }
      continue;
    }
    const module = statement.childForFieldName('module_name')?.text;
    if (!module || !FAL_MODULES.has(module)) continue;
    if (statement.children.some((child) => child?.type === 'wildcard_import')) bindings.wildcard = true;
    for (const imported of statement.childrenForFieldName('name')) {
      if (!imported) continue;
      if (imported.type === 'dotted_name') bindMember(imported.text, imported.text);
      else if (imported.type === 'aliased_import') {
        const name = imported.childForFieldName('name')?.text;
        const alias = imported.childForFieldName('alias')?.text;
        if (name && alias) bindMember(name, alias);
      }
    }
  }
  return bindings;
}

export function importsFal(bindings: FalBindings): boolean {
  return bindings.modules.size > 0 || bindings.members.size > 0 || bindings.wildcard;
}

/** Whether an expression names fal's `member`: `fal.App`, `f.App`, `App`, or `Base` as bound. */
export function isFalName(node: Node, member: string, bindings: FalBindings): boolean {
  if (node.type === 'attribute') {
    const object = node.childForFieldName('object');
    return node.childForFieldName('attribute')?.text === member && object?.type === 'identifier' && bindings.modules.has(object.text);
  }
  if (node.type === 'identifier') {
    return bindings.members.get(member)?.has(node.text) === true || (bindings.wildcard && node.text === member);
  }
  return false;
}
