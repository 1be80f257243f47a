/**
 * The runtime's side of the worker protocol under generated input (fast-check): frames survive
 * any split into chunks, a broken stream is reported once and never throws, values nested too
 * deep are caught before anything re-encodes them, and the nesting measure agrees with a
 * reference on any text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { nestingExceeds } from '../../src/runtime/limits';
import { encodeFrame, FrameDecoder, MAX_FRAME_DEPTH } from '../../src/runtime/runners/frames';

/** Cuts `data` at the given points (any, in any order). */
function chunks(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (data.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of [...points, data.length]) {
    pieces.push(data.subarray(start, point));
    start = point;
  }
  return pieces;
}

function decodeAll(pieces: Buffer[]): { messages: unknown[]; problems: string[] } {
  const messages: unknown[] = [];
  const problems: string[] = [];
  const decoder = new FrameDecoder((message) => messages.push(message), (problem) => problems.push(problem));
  for (const piece of pieces) decoder.push(piece);
  return { messages, problems };
}

/** The reference: nesting of a parsed value, measured without recursion. */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [item, level] = stack.pop()!;
    if (item && typeof item === 'object') {
      deepest = Math.max(deepest, level);
      for (const child of Object.values(item)) stack.push([child, level + 1]);
    }
  }
  return deepest;
}

/** A JSON value wrapped in `levels` arrays and objects, some with strings full of brackets beside them. */
const deepValues = fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.array(fc.constantFrom('array', 'object', 'noisy'), { maxLength: 300 }))
  .map(([value, wrappers]) => wrappers.reduce<unknown>((inner, kind) => (kind === 'array' ? [inner] : kind === 'object' ? { k: inner } : ['"[{\\"]', inner, '}}']), value));

describe('worker frames', () => {
  it('arrive whole and in order however the stream is cut', () => {
    fc.assert(fc.property(fc.array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
      const stream = Buffer.concat(messages.map((message) => encodeFrame(message)));
      const decoded = decodeAll(chunks(stream, cuts));
      assert.deepEqual(decoded.problems, []);
      // JSON has no -0 and drops undefined: compare with what JSON makes of the messages.
      assert.deepEqual(decoded.messages, messages.map((message) => JSON.parse(JSON.stringify(message))));
    }), { numRuns: 300 });
  });

  it('report a broken stream once, never throw, and deliver nothing after it', () => {
    const garbage = fc.oneof(fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
      fc.string().map((text) => { const body = Buffer.from(text); const head = Buffer.alloc(4); head.writeUInt32BE(body.length); return Buffer.concat([head, body]); }));
    fc.assert(fc.property(fc.jsonValue(), garbage, fc.jsonValue(), fc.array(fc.nat(), { maxLength: 10 }), (before, junk, after, cuts) => {
      const stream = Buffer.concat([encodeFrame(before), junk, encodeFrame(after)]);
      const decoded = decodeAll(chunks(stream, cuts));
      assert.ok(decoded.problems.length <= 1, decoded.problems.join('; '));
      assert.deepEqual(decoded.messages[0], JSON.parse(JSON.stringify(before)));
      if (decoded.problems.length === 1) assert.ok(decoded.messages.length <= 3);
    }), { numRuns: 300 });
  });

  it('turn a result nested past the limit into an error for its request, and refuse any other such frame', () => {
    fc.assert(fc.property(fc.integer({ min: MAX_FRAME_DEPTH - 3, max: MAX_FRAME_DEPTH + 50 }), fc.boolean(), (levels, isResult) => {
      const value = `${'['.repeat(levels)}${']'.repeat(levels)}`;
      const text = isResult ? `{"type":"result","id":"r1","ok":true,"output":${value},"executionMs":1}` : `{"type":"inspect","apps":${value}}`;
      const body = Buffer.from(text);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      const decoded = decodeAll([head, body]);
      const tooDeep = levels + 1 > MAX_FRAME_DEPTH;
      if (!tooDeep) {
        assert.deepEqual([decoded.messages.length, decoded.problems], [1, []]);
      } else if (isResult) {
        assert.deepEqual(decoded.problems, []);
        const [message] = decoded.messages as { id: string; ok: boolean; status: number; detail: string }[];
        assert.deepEqual([message!.id, message!.ok, message!.status], ['r1', false, 500]);
        assert.match(message!.detail, /more than 1000 levels deep/);
        JSON.stringify(message); // what the runtime does next must not overflow
      } else {
        assert.deepEqual(decoded.messages, []);
        assert.match(decoded.problems[0]!, /nested more than 1000 levels deep/);
      }
    }), { numRuns: 60 });
  });
});

describe('nesting measured without parsing', () => {
  it('agrees with the depth of the parsed value, whatever strings hold', () => {
    fc.assert(fc.property(deepValues, fc.integer({ min: 1, max: 400 }), (value, limit) => {
      assert.equal(nestingExceeds(JSON.stringify(value), limit), depthOf(value) > limit);
    }), { numRuns: 500 });
  });

  it('reads escaped quotes and backslashes in strings right', () => {
    assert.equal(nestingExceeds(JSON.stringify({ a: '\\', b: [['"[[[[']] }), 3), false);
    assert.equal(nestingExceeds(JSON.stringify({ a: '\\"', b: [[[1]]] }), 3), true);
    assert.equal(nestingExceeds('"unterminated [[[[', 1), false);
    assert.equal(nestingExceeds('[[[', 2), true);
  });
});
