/**
 * The runtime's check of a request body against an endpoint's input schema, before any runner
 * sees it: fal's 422 shape, and no stricter than the worker's lax-mode conversion.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileInputValidator } from '../../src/runtime/http/inputs';

describe('input checks', () => {
  it('answers a missing field and a wrong type in fal\'s shape', () => {
    const validate = compileInputValidator({
      type: 'object', properties: { prompt: { type: 'string' }, steps: { type: 'integer' } }, required: ['prompt'], additionalProperties: false,
    });
    assert.deepEqual(validate({ steps: [1] }), [
      { loc: ['body', 'prompt'], msg: 'Field required', type: 'missing' },
      { loc: ['body', 'steps'], msg: 'Input should be a valid integer', type: 'int_type' },
    ]);
    assert.equal(validate({ prompt: 'a fox', steps: '30' }), null, 'numeric text for an int is the worker\'s to convert');
  });

  it('reads parameters named like schema keywords as parameters', () => {
    const validate = compileInputValidator({
      type: 'object', properties: { type: { type: 'integer' }, default: { type: 'integer' }, enum: { type: 'boolean' } }, additionalProperties: false,
    });
    assert.equal(validate({ type: 5, default: '3', enum: 'true' }), null);
    assert.deepEqual(validate({ type: [5] })?.map((error) => error.loc), [['body', 'type']]);
    assert.deepEqual(validate({ default: { a: 1 } })?.map((error) => error.loc), [['body', 'default']]);
  });
});
