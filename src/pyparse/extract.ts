/**
 * extractApps: every fal.App subclass in a parsed file, with its class keywords, body
 * attributes, endpoints and methods, and the source range of each part. Works on half-typed
 * files: whatever tree-sitter recovered is read, and ERROR regions are skipped.
 */
import type { Node, Tree } from 'web-tree-sitter';
import { type AppInput, type OptionSource, type ParameterInput, UNCHECKED } from '../appconfig/input';
import { bindingsOf, type FalBindings, importsFal, isFalName, moduleStatements } from './bindings';
import { type Range, rangeOf } from './range';
import { evaluate, type ValueNode } from './values';

export interface ExtractedOption {
  key: string;
  source: OptionSource;
  keyRange: Range;
  value: ValueNode;
  /** The whole `key = value` statement or `key=value` keyword argument. */
  statementRange: Range;
}

export interface ExtractedParameter extends ParameterInput {
  range: Range;
}

export interface ExtractedEndpoint {
  path: unknown;
  /** The path argument, or the decorator when it has none. */
  pathRange: Range;
  functionName: string;
  functionNameRange: Range;
  /** The decorated definition, decorators included. */
  range: Range;
  parameters: ExtractedParameter[];
  isAsync: boolean;
}

export interface ExtractedMethod {
  name: string;
  nameRange: Range;
}

export interface ExtractedApp {
  className: string;
  classNameRange: Range;
  /** The class definition, decorators included. */
  range: Range;
  /** `(fal.App, keep_alive=300)`, where class keywords go. */
  superclassesRange: Range;
  /** The first line of the body, and the indentation body statements use. */
  bodyStart: Range['start'];
  bodyIndent: string;
  options: ExtractedOption[];
  endpoints: ExtractedEndpoint[];
  methods: ExtractedMethod[];
  /** The same facts in the shape validation takes. */
  input: AppInput;
}

export interface ExtractedFile {
  /** Only files that import fal get diagnostics, completion, hovers and lenses. */
  importsFal: boolean;
  fal: FalBindings;
  apps: ExtractedApp[];
}

/**
 * Offers an app read from an earlier version of the text for a class at this range, so an edit
 * elsewhere does not read it again (the language server passes one; see check.ts).
 */
export type ReuseApp = (range: Range, fal: FalBindings) => ExtractedApp | undefined;

export function extractApps(tree: Tree, reuse?: ReuseApp): ExtractedFile {
  const statements = [...moduleStatements(tree.rootNode)];
  const fal = bindingsOf(statements);
  if (!importsFal(fal)) return { importsFal: false, fal, apps: [] };
  const apps: ExtractedApp[] = [];
  for (const definition of statements) {
    if (definition.type !== 'class_definition') continue;
    const app = reuse?.(rangeOf(outerDefinition(definition)), fal) ?? readApp(definition, fal);
    if (app) apps.push(app);
  }
  return { importsFal: true, fal, apps };
}

/** The class with its decorators, the extent an app's range covers. */
function outerDefinition(definition: Node): Node {
  return definition.parent?.type === 'decorated_definition' ? definition.parent : definition;
}

function readApp(definition: Node, fal: FalBindings): ExtractedApp | undefined {
  const superclasses = definition.childForFieldName('superclasses');
  const nameNode = definition.childForFieldName('name');
  if (!superclasses || !nameNode) return undefined;
  const bases = superclasses.namedChildren;
  if (!bases.some((base) => isFalName(base, 'App', fal))) return undefined;

  const options: ExtractedOption[] = [];
  for (const argument of bases) {
    if (argument.type !== 'keyword_argument') continue;
    const key = argument.childForFieldName('name');
    const value = argument.childForFieldName('value');
    if (!key || !value) continue;
    options.push({ key: key.text, source: 'keyword', keyRange: rangeOf(key), value: readValue(argument, value, fal), statementRange: rangeOf(argument) });
  }

  const endpoints: ExtractedEndpoint[] = [];
  const methods: ExtractedMethod[] = [];
  const body = definition.childForFieldName('body');
  for (const statement of body?.namedChildren ?? []) {
    readStatement(statement, fal, options, endpoints, methods);
  }

  const outer = outerDefinition(definition);
  const firstStatement = body?.namedChildren.find((child) => child.type !== 'comment') ?? body;
  const bodyStart = firstStatement ? rangeOf(firstStatement).start : rangeOf(definition).end;
  return {
    className: nameNode.text,
    classNameRange: rangeOf(nameNode),
    range: rangeOf(outer),
    superclassesRange: rangeOf(superclasses),
    bodyStart,
    bodyIndent: ' '.repeat(firstStatement && firstStatement.startPosition.row > definition.startPosition.row
      ? firstStatement.startPosition.column : definition.startPosition.column + 4),
    options,
    endpoints,
    methods,
    input: {
      className: nameNode.text,
      options: options.map(({ key, value, source }) => ({ key, value: value.value, source })),
      endpoints: endpoints.map(({ path, functionName, parameters, isAsync }) => ({
        path,
        functionName,
        parameters: parameters.map(({ name, annotation, hasDefault }) => ({ name, annotation, hasDefault })),
        isAsync,
      })),
      methods: methods.map((method) => method.name),
    },
  };
}

function readStatement(statement: Node, fal: FalBindings, options: ExtractedOption[], endpoints: ExtractedEndpoint[], methods: ExtractedMethod[]): void {
  if (statement.type === 'expression_statement') {
    let assignment = statement.firstNamedChild;
    // Python allows no line break in `a = b = 1`, but tree-sitter reads a value still being typed
    // (`machine_type =` above `keep_alive = 300`) as such a chain: the next line is read alone.
    while (assignment?.type === 'assignment' && assignment.childForFieldName('right')?.type === 'assignment'
      && assignment.childForFieldName('right')!.startPosition.row > assignment.startPosition.row) {
      assignment = assignment.childForFieldName('right');
    }
    if (assignment?.type !== 'assignment') return;
    const left = assignment.childForFieldName('left');
    const right = assignment.childForFieldName('right');
    if (left?.type !== 'identifier' || !right || right.type === 'assignment') return;
    options.push({
      key: left.text,
      source: 'attribute',
      keyRange: rangeOf(left),
      value: readValue(assignment, right, fal),
      statementRange: rangeOf(assignment.parent === statement ? statement : assignment),
    });
    return;
  }
  const decorated = statement.type === 'decorated_definition';
  const definition = decorated ? statement.childForFieldName('definition') : statement;
  if (definition?.type !== 'function_definition') return;
  const name = definition.childForFieldName('name');
  if (!name) return;
  methods.push({ name: name.text, nameRange: rangeOf(name) });
  if (!decorated) return;
  for (const decorator of statement.namedChildren) {
    if (decorator.type !== 'decorator') continue;
    const endpoint = readEndpoint(decorator, definition, name, statement, fal);
    if (endpoint) endpoints.push(endpoint);
  }
}

/**
 * A value after an ERROR is one tree-sitter borrowed from further on (`env = {"A": ` above
 * `keep_alive = 5` reads as `env = 5`), so it is not what the key holds.
 */
function readValue(binding: Node, value: Node, fal: FalBindings): ValueNode {
  return binding.children.some((child) => child?.type === 'ERROR') ? { value: UNCHECKED, range: rangeOf(value) } : evaluate(value, fal);
}

function readEndpoint(decorator: Node, definition: Node, name: Node, statement: Node, fal: FalBindings): ExtractedEndpoint | undefined {
  const call = decorator.namedChildren.find((child) => child.type !== 'comment');
  if (call?.type !== 'call') return undefined;
  const callee = call.childForFieldName('function');
  if (!callee || !isFalName(callee, 'endpoint', fal)) return undefined;
  const args = call.childForFieldName('arguments')?.namedChildren ?? [];
  const pathNode = args.find((arg) => arg.type !== 'keyword_argument' && arg.type !== 'comment')
    ?? args.find((arg) => arg.type === 'keyword_argument' && arg.childForFieldName('name')?.text === 'path')?.childForFieldName('value');
  const path = pathNode ? evaluate(pathNode, fal) : undefined;
  return {
    path: path ? path.value : undefined,
    pathRange: path ? path.range : rangeOf(decorator),
    functionName: name.text,
    functionNameRange: rangeOf(name),
    range: rangeOf(statement),
    parameters: readParameters(definition),
    isAsync: definition.children.some((child) => child.type === 'async'),
  };
}

/** Parameters after `self`; `*args`, `**kwargs` and the `*` and `/` markers are not inputs. */
function readParameters(definition: Node): ExtractedParameter[] {
  const parameters = definition.childForFieldName('parameters')?.namedChildren ?? [];
  const result: ExtractedParameter[] = [];
  parameters.forEach((parameter, index) => {
    if (index === 0) return;
    const name = parameter.type === 'identifier' ? parameter
      : parameter.type === 'typed_parameter' ? parameter.namedChildren.find((child) => child.type === 'identifier')
      : parameter.childForFieldName('name');
    if (!name || name.type !== 'identifier') return;
    const annotation = parameter.childForFieldName('type');
    result.push({
      name: name.text,
      annotation: annotation ? annotation.text : null,
      hasDefault: parameter.type === 'default_parameter' || parameter.type === 'typed_default_parameter',
      range: rangeOf(parameter),
    });
  });
  return result;
}
