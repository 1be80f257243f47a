/**
 * Request bodies checked against an endpoint's input schema before any runner sees them, with
 * failures in fal's (pydantic's) 422 shape: `{"detail": [{"loc": ["body", "steps"], "msg": ..., "type": ...}]}`.
 *
 * The check is for shape. Values that pydantic's lax mode converts ("3" for an int, 2 for a
 * float, "yes" for a bool) pass here and are converted, or refused with pydantic's own message,
 * by the worker (kiln_harness/coercion.py), which has the types themselves.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
}

// Formats and pydantic's extra keywords are the worker's business; the schema here is for shape.
// The schemas are the harness's own making, so they are not checked against JSON Schema's
// meta-schema, whose compilation would cost the first deploy after a start about 70 ms.
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, validateSchema: false });

const TYPE_NAMES: Record<string, [string, string]> = {
  string: ['a valid string', 'string_type'],
  integer: ['a valid integer', 'int_type'],
  number: ['a valid number', 'float_type'],
  boolean: ['a valid boolean', 'bool_type'],
  array: ['a valid list', 'list_type'],
  object: ['a valid dictionary', 'dict_type'],
  null: ['None', 'none_required'],
};

function location(error: ErrorObject): (string | number)[] {
  const parts = error.instancePath.split('/').slice(1).map((part) => {
    const decoded = part.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(decoded) ? Number(decoded) : decoded;
  });
  return ['body', ...parts];
}

const quoteList = (values: unknown[]) => {
  const shown = values.map((value) => (typeof value === 'string' ? `'${value}'` : JSON.stringify(value)));
  return shown.length > 1 ? `${shown.slice(0, -1).join(', ')} or ${shown.at(-1)}` : shown[0] ?? '';
};

function toFieldError(error: ErrorObject): FieldError | undefined {
  const loc = location(error);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { loc: [...loc, String(params.missingProperty)], msg: 'Field required', type: 'missing' };
    case 'type': {
      const expected = String(params.type).split(',')[0]!;
      const [what, type] = TYPE_NAMES[expected] ?? [`of type ${expected}`, `${expected}_type`];
      return { loc, msg: `Input should be ${what}`, type };
    }
    case 'enum':
    case 'const':
      return { loc, msg: `Input should be ${quoteList((params.allowedValues as unknown[] | undefined) ?? [params.allowedValue])}`, type: 'literal_error' };
    case 'minimum':
    case 'exclusiveMinimum':
      return { loc, msg: `Input should be greater than${error.keyword === 'minimum' ? ' or equal to' : ''} ${String(params.limit)}`, type: error.keyword === 'minimum' ? 'greater_than_equal' : 'greater_than' };
    case 'maximum':
    case 'exclusiveMaximum':
      return { loc, msg: `Input should be less than${error.keyword === 'maximum' ? ' or equal to' : ''} ${String(params.limit)}`, type: error.keyword === 'maximum' ? 'less_than_equal' : 'less_than' };
    case 'minLength':
    case 'minItems':
      return { loc, msg: `Input should have at least ${String(params.limit)} ${error.keyword === 'minLength' ? 'characters' : 'items'}`, type: error.keyword === 'minLength' ? 'string_too_short' : 'too_short' };
    case 'maxLength':
    case 'maxItems':
      return { loc, msg: `Input should have at most ${String(params.limit)} ${error.keyword === 'maxLength' ? 'characters' : 'items'}`, type: error.keyword === 'maxLength' ? 'string_too_long' : 'too_long' };
    case 'additionalProperties':
      return { loc: [...loc, String(params.additionalProperty)], msg: 'Extra inputs are not permitted', type: 'extra_forbidden' };
    case 'anyOf':
    case 'oneOf':
      // The branches' own errors say more; the summary only repeats that none matched.
      return undefined;
    default:
      return { loc, msg: error.message ?? 'Input is not valid', type: error.keyword };
  }
}

/** The JSON types lax mode may convert into each schema type. */
const LAX_TYPES: Record<string, string[]> = {
  integer: ['integer', 'number', 'boolean', 'string'],
  number: ['number', 'boolean', 'string'],
  boolean: ['boolean', 'number', 'string'],
};
/** Keywords that hold values, not schemas: nothing in them is widened. */
const VALUE_KEYWORDS = new Set(['default', 'examples', 'const', 'enum']);
/** Keywords whose value maps names to schemas: a parameter called "default" or "type" is a name. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);

/** The schema with each scalar type widened to what lax mode may convert into it. */
function laxSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(laxSchema);
  if (!node || typeof node !== 'object') return node;
  const lax: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'type') {
      const types = (Array.isArray(value) ? value : [value]) as string[];
      lax.type = [...new Set(types.flatMap((type) => LAX_TYPES[type] ?? [type]))];
    } else if (key === 'enum' || key === 'const') {
      // Literal[1] takes 1.0 and true, an int enum takes "2": only text choices are exact.
      const values = key === 'enum' ? value as unknown[] : [value];
      if (values.every((choice) => typeof choice === 'string')) lax[key] = value;
    } else if (SCHEMA_MAPS.has(key) && value && typeof value === 'object' && !Array.isArray(value)) {
      lax[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, laxSchema(schema)]));
    } else {
      lax[key] = VALUE_KEYWORDS.has(key) ? value : laxSchema(value);
    }
  }
  return lax;
}

export type InputValidator = (input: unknown) => FieldError[] | null;

export function compileInputValidator(schema: Record<string, unknown>): InputValidator {
  const validate: ValidateFunction = ajv.compile(laxSchema(schema) as Record<string, unknown>);
  return (input) => {
    if (validate(input)) return null;
    const seen = new Set<string>();
    const errors: FieldError[] = [];
    for (const error of validate.errors ?? []) {
      // In an Optional[...] (anyOf with null), "should be None" is noise next to the real type.
      if (error.keyword === 'type' && (error.params as { type?: string }).type === 'null') continue;
      const field = toFieldError(error);
      if (!field) continue;
      const key = JSON.stringify(field.loc);
      if (seen.has(key)) continue;
      seen.add(key);
      errors.push(field);
    }
    return errors.length ? errors : [{ loc: ['body'], msg: 'Input is not valid', type: 'value_error' }];
  };
}
