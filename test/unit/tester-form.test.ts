/**
 * The tester's form as data: JSON Schemas as the runtime publishes them (from plain type hints
 * and from pydantic models) read into fields, and what a person types read back into the body.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { draftsOf, fieldsOf, readFields } from '../../src/webview/tester/schemaForm';

/** The schema of `def types(self, prompt: str, count: int, flag: bool, tags: list[str], mode: Literal["fast", "slow"] = "fast", note: Optional[str] = None, weights: Dict[str, float])`. */
const hinted = {
  type: 'object',
  properties: {
    prompt: { type: 'string' },
    count: { type: 'integer' },
    flag: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
    mode: { enum: ['fast', 'slow'], type: 'string', default: 'fast' },
    note: { anyOf: [{ type: 'string' }, { type: 'null' }], default: null },
    weights: { type: 'object', additionalProperties: { type: 'number' } },
  },
  required: ['prompt', 'count', 'flag', 'tags', 'weights'],
};

/** A pydantic model with a nested model, a list of them, bounds and a description (the harness inlines $defs). */
const model = {
  type: 'object',
  title: 'Input',
  properties: {
    prompt: { type: 'string', title: 'Prompt', description: 'What to draw' },
    size: {
      type: 'object', title: 'Size', default: { width: 512, height: 512 },
      properties: { width: { type: 'integer', title: 'Width', minimum: 64, default: 512 }, height: { type: 'integer', title: 'Height', default: 512 } },
    },
    sizes: { type: 'array', title: 'Sizes', default: [], items: { type: 'object', properties: { width: { type: 'integer', minimum: 64, default: 512 } } } },
    seed: { anyOf: [{ type: 'integer' }, { type: 'null' }], title: 'Seed', default: null },
  },
  required: ['prompt'],
};

describe('the tester form', () => {
  it('reads type hints into fields: kinds, required, defaults, choices, optional values and JSON for maps', () => {
    const fields = fieldsOf(hinted);
    assert.deepEqual(fields.map((field) => [field.name, field.kind, field.required]), [
      ['prompt', 'string', true], ['count', 'number', true], ['flag', 'boolean', true], ['tags', 'array', true],
      ['mode', 'enum', false], ['note', 'string', false], ['weights', 'json', true],
    ]);
    const mode = fields.find((field) => field.name === 'mode');
    assert.deepEqual(mode?.kind === 'enum' && mode.options, ['fast', 'slow']);
    assert.equal(fields.find((field) => field.name === 'note')!.nullable, true);
  });

  it('sends what is typed as the types ask, and leaves optional fields at their defaults out', () => {
    const fields = fieldsOf(hinted);
    const drafts = draftsOf(fields);
    Object.assign(drafts, { prompt: 'a fox', count: '3', flag: true, tags: ['a', 'b'], weights: '{"x": 0.5}' });
    assert.deepEqual(readFields(fields, drafts), {
      input: { prompt: 'a fox', count: 3, flag: true, tags: ['a', 'b'], weights: { x: 0.5 } },
      errors: [],
    });
    drafts.mode = '"slow"';
    drafts.note = 'hi';
    assert.deepEqual(readFields(fields, drafts).input, { prompt: 'a fox', count: 3, flag: true, tags: ['a', 'b'], mode: 'slow', note: 'hi', weights: { x: 0.5 } });
  });

  it('names each field that does not read, and why', () => {
    const fields = fieldsOf(hinted);
    const drafts = { ...draftsOf(fields), count: '2.5', weights: '{oops' };
    assert.deepEqual(readFields(fields, drafts).errors, [
      { path: ['count'], message: 'Enter a whole number' },
      { path: ['weights'], message: 'Enter JSON, such as {"key": 1} or ["a", "b"]' },
    ]);
    assert.deepEqual(readFields(fields, { ...drafts, count: '', weights: '{}' }).errors, [{ path: ['count'], message: 'Required' }]);
  });

  it('draws a pydantic model with nested objects, lists of objects and bounds, and reads them back', () => {
    const fields = fieldsOf(model);
    assert.deepEqual(fields.map((field) => [field.name, field.kind, field.label]), [
      ['prompt', 'string', 'prompt'], ['size', 'object', 'size'], ['sizes', 'array', 'sizes'], ['seed', 'number', 'seed'],
    ]);
    assert.equal(fields[0]!.description, 'What to draw');
    const drafts = draftsOf(fields);
    assert.deepEqual(drafts.size, { width: '', height: '' }, 'a nested object starts empty, its defaults as placeholders');
    // Nothing but the prompt set: the nested defaults stay the endpoint's.
    drafts.prompt = 'a fox';
    assert.deepEqual(readFields(fields, drafts), { input: { prompt: 'a fox' }, errors: [] });
    (drafts.size as Record<string, string>).width = '1024';
    assert.deepEqual(readFields(fields, drafts).input, { prompt: 'a fox', size: { width: 1024 } });
    (drafts.size as Record<string, string>).width = '512';
    assert.deepEqual(readFields(fields, drafts).input, { prompt: 'a fox' }, 'a value equal to the default is left to the endpoint');
    (drafts.sizes as unknown[]).push({ width: '32' });
    assert.deepEqual(readFields(fields, drafts).errors, [{ path: ['sizes', 0, 'width'], message: 'At least 64' }]);
  });

  it('fills the form from an earlier request', () => {
    const fields = fieldsOf(model);
    const drafts = draftsOf(fields, { prompt: 'again', sizes: [{ width: 128 }], seed: 7 });
    assert.deepEqual(readFields(fields, drafts).input, { prompt: 'again', sizes: [{ width: 128 }], seed: 7 });
  });

  it('has no fields for an endpoint without inputs', () => {
    assert.deepEqual(fieldsOf({ type: 'object', properties: {} }), []);
    assert.deepEqual(readFields([], {}), { input: {}, errors: [] });
  });
});
