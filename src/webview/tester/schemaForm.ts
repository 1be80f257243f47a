/**
 * The tester's form, as data: an endpoint's input schema (JSON Schema, as the runtime reports it
 * from type hints or a pydantic model) read into fields, what the user typed kept as drafts, and
 * the drafts read back into the request body with an error per field that does not parse. No
 * DOM here; formView.ts draws it.
 *
 * Fields the user leaves empty (or at their default) and that are not required are left out of
 * the body, so the endpoint's own defaults apply, as they would for a fal client that omits them.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

interface FieldBase {
  name: string;
  /** The title the schema gives, or the property name. */
  label: string;
  description: string | undefined;
  required: boolean;
  /** The schema's default, when it has one. */
  default: JsonValue | undefined;
  /** Optional[X]: null is a value too (sent when the field is cleared and it is required). */
  nullable: boolean;
}

export type Field =
  | (FieldBase & { kind: 'string' })
  | (FieldBase & { kind: 'number'; integer: boolean; minimum?: number; maximum?: number })
  | (FieldBase & { kind: 'boolean' })
  | (FieldBase & { kind: 'enum'; options: JsonValue[] })
  | (FieldBase & { kind: 'object'; fields: Field[] })
  | (FieldBase & { kind: 'array'; item: Field; minItems?: number; maxItems?: number })
  /** Anything the form cannot draw field by field (unions, maps, Any): JSON text. */
  | (FieldBase & { kind: 'json' });

/** What the user has entered: text for scalars and JSON, a tick for booleans, lists and objects of drafts. */
export type Draft = string | boolean | Draft[] | { [key: string]: Draft };

type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The fields of a request body's schema (an object's properties); none for an endpoint without inputs. */
export function fieldsOf(schema: Schema): Field[] {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required.map(String) : [];
  return Object.entries(properties).map(([name, property]) => fieldOf(name, isSchema(property) ? property : {}, required.includes(name)));
}

function fieldOf(name: string, given: Schema, required: boolean): Field {
  let schema = given;
  let nullable = false;
  const variants = Array.isArray(schema.anyOf) ? schema.anyOf.filter(isSchema) : undefined;
  if (variants) {
    const nonNull = variants.filter((variant) => variant.type !== 'null');
    nullable = nonNull.length < variants.length;
    // Optional[X]: the field is X; a union of several types stays JSON.
    if (nonNull.length === 1) schema = { ...nonNull[0], ...withoutKey(schema, 'anyOf') };
  }
  const base: FieldBase = {
    name,
    label: typeof schema.title === 'string' && schema.title !== name && !isGeneratedTitle(schema.title, name) ? schema.title : name,
    description: typeof schema.description === 'string' ? schema.description : undefined,
    required,
    default: 'default' in schema ? schema.default as JsonValue : undefined,
    nullable,
  };
  if (Array.isArray(schema.enum)) return { ...base, kind: 'enum', options: schema.enum as JsonValue[] };
  if (Array.isArray(schema.anyOf) || '$ref' in schema) return { ...base, kind: 'json' };
  switch (schema.type) {
    case 'string':
      return { ...base, kind: 'string' };
    case 'integer':
    case 'number':
      return {
        ...base, kind: 'number', integer: schema.type === 'integer',
        ...(typeof schema.minimum === 'number' ? { minimum: schema.minimum } : {}),
        ...(typeof schema.maximum === 'number' ? { maximum: schema.maximum } : {}),
      };
    case 'boolean':
      return { ...base, kind: 'boolean' };
    case 'object':
      return isSchema(schema.properties) && Object.keys(schema.properties).length > 0
        ? { ...base, kind: 'object', fields: fieldsOf(schema) }
        : { ...base, kind: 'json' };
    case 'array':
      return isSchema(schema.items) && !('prefixItems' in schema)
        ? {
          ...base, kind: 'array', item: fieldOf('item', schema.items, true),
          ...(typeof schema.minItems === 'number' ? { minItems: schema.minItems } : {}),
          ...(typeof schema.maxItems === 'number' ? { maxItems: schema.maxItems } : {}),
        }
        : { ...base, kind: 'json' };
    default:
      return { ...base, kind: 'json' };
  }
}

/** Pydantic titles a field "Seed" for `seed`: no news, so the name is shown. */
function isGeneratedTitle(title: string, name: string): boolean {
  return title.toLowerCase().replace(/\s+/g, '_') === name.toLowerCase();
}

function withoutKey(schema: Schema, key: string): Schema {
  const { [key]: _dropped, ...rest } = schema;
  return rest;
}

/**
 * The draft that shows `value` (from an earlier request); without one, an empty field whose
 * placeholder names the default (a checkbox shows its default, having no empty state).
 */
export function draftOf(field: Field, value?: JsonValue): Draft {
  switch (field.kind) {
    case 'boolean':
      return value === undefined ? field.default === true : value === true;
    case 'object': {
      const object = isSchema(value) ? value as Record<string, JsonValue> : {};
      return Object.fromEntries(field.fields.map((child) => [child.name, draftOf(child, object[child.name])]));
    }
    case 'array':
      return Array.isArray(value) ? value.map((item) => draftOf(field.item, item)) : [];
    case 'enum':
      return value === undefined ? '' : JSON.stringify(value);
    case 'json':
      return value === undefined ? '' : JSON.stringify(value, null, 2);
    default:
      return value === undefined || value === null ? '' : String(value);
  }
}

export function draftsOf(fields: Field[], input: Record<string, JsonValue> = {}): Record<string, Draft> {
  return Object.fromEntries(fields.map((field) => [field.name, draftOf(field, input[field.name])]));
}

export interface FieldError {
  /** Where, as names and indexes from the body: ["size", "width"], ["tags", 2]. */
  path: (string | number)[];
  message: string;
}

/** A field read: its value, or nothing (left out of the body), and what is wrong with it. */
interface Reading {
  value?: JsonValue;
  errors: FieldError[];
}

/** Reads a field's draft; `path` names it in errors. An optional field set to its default is left out. */
function readField(field: Field, draft: Draft, path: (string | number)[]): Reading {
  const reading = readDraft(field, draft, path);
  if (!field.required && field.default !== undefined && reading.value !== undefined && JSON.stringify(reading.value) === JSON.stringify(field.default)) {
    return { errors: reading.errors };
  }
  return reading;
}

function readDraft(field: Field, draft: Draft, path: (string | number)[]): Reading {
  const fail = (message: string): Reading => ({ errors: [{ path, message }] });
  const leaveOut = (): Reading => (field.required ? (field.nullable ? { value: null, errors: [] } : fail('Required')) : { errors: [] });
  switch (field.kind) {
    case 'string': {
      const text = draft as string;
      if (text === '' && !field.required) return { errors: [] };
      return { value: text, errors: [] };
    }
    case 'number': {
      const text = (draft as string).trim();
      if (text === '') return leaveOut();
      const number = Number(text);
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || !Number.isFinite(number)) return fail(field.integer ? 'Enter a whole number' : 'Enter a number');
      if (field.integer && !Number.isInteger(number)) return fail('Enter a whole number');
      if (field.minimum !== undefined && number < field.minimum) return fail(`At least ${field.minimum}`);
      if (field.maximum !== undefined && number > field.maximum) return fail(`At most ${field.maximum}`);
      return { value: number, errors: [] };
    }
    case 'boolean': {
      const checked = draft as boolean;
      if (!field.required && checked === (field.default === true)) return { errors: [] };
      return { value: checked, errors: [] };
    }
    case 'enum': {
      const text = draft as string;
      if (text === '') return leaveOut();
      return { value: JSON.parse(text) as JsonValue, errors: [] };
    }
    case 'json': {
      const text = (draft as string).trim();
      if (text === '') return leaveOut();
      try {
        return { value: JSON.parse(text) as JsonValue, errors: [] };
      } catch {
        return fail('Enter JSON, such as {"key": 1} or ["a", "b"]');
      }
    }
    case 'array': {
      const items = draft as Draft[];
      const read = items.map((item, index) => readField(field.item, item, [...path, index]));
      const errors = read.flatMap((reading) => reading.errors);
      if (field.minItems !== undefined && items.length < field.minItems) errors.push({ path, message: `At least ${field.minItems} item(s)` });
      if (field.maxItems !== undefined && items.length > field.maxItems) errors.push({ path, message: `At most ${field.maxItems} item(s)` });
      const value = read.map((reading) => reading.value ?? null);
      if (items.length === 0 && !field.required) return { errors };
      return { value, errors };
    }
    case 'object': {
      const drafts = draft as Record<string, Draft>;
      const { input, errors } = readFields(field.fields, drafts, path);
      // An optional object with nothing set is left out, so its default applies.
      if (!field.required && Object.keys(input).length === 0) return { errors };
      return { value: input, errors };
    }
  }
}

/** The request body the drafts make, and every field that does not read. */
export function readFields(fields: Field[], drafts: Record<string, Draft>, path: (string | number)[] = []): { input: Record<string, JsonValue>; errors: FieldError[] } {
  const input: Record<string, JsonValue> = {};
  const errors: FieldError[] = [];
  for (const field of fields) {
    const reading = readField(field, drafts[field.name] ?? draftOf(field), [...path, field.name]);
    if (reading.value !== undefined) input[field.name] = reading.value;
    errors.push(...reading.errors);
  }
  return { input, errors };
}

/** A short description of a field's type, shown beside its label: "integer ≥ 1", "list of string". */
export function typeLabel(field: Field): string {
  switch (field.kind) {
    case 'number': {
      const bounds = [field.minimum !== undefined ? `≥ ${field.minimum}` : '', field.maximum !== undefined ? `≤ ${field.maximum}` : ''].filter(Boolean).join(', ');
      return `${field.integer ? 'integer' : 'number'}${bounds ? ` ${bounds}` : ''}`;
    }
    case 'array':
      return `list of ${typeLabel(field.item)}`;
    case 'enum':
      return 'one of';
    case 'json':
      return 'JSON';
    default:
      return field.kind;
  }
}
