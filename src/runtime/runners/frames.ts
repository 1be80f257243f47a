/**
 * Length-prefixed JSON frames, the wire format between the runtime and its Python workers
 * (see workerProtocol.ts): a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
 */
import { nestingExceeds } from '../limits';

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** No answer is larger than the largest request body the runtime accepts, and then some. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

/**
 * No frame nests deeper than Python's json can write (its recursion limit is 1,000); deeper
 * ones come from an app writing to fd 4, and re-encoding them would overflow the stack.
 */
export const MAX_FRAME_DEPTH = 1000;

/**
 * Reassembles frames from arbitrary chunks: a frame may span reads, a read may hold many. A
 * stream that breaks the format (an app writing to fd 4 itself) is reported once to `onError`
 * and read no further, so one broken worker cannot take the runtime down.
 */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  private broken = false;

  constructor(private readonly onMessage: (message: unknown) => void, private readonly onError: (problem: string) => void) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    while (this.buffer.length - offset >= 4) {
      const length = this.buffer.readUInt32BE(offset);
      if (length > MAX_FRAME_BYTES) return this.fail(`a frame of ${length} bytes, over the ${MAX_FRAME_BYTES}-byte limit`);
      if (this.buffer.length - offset - 4 < length) break;
      const body = this.buffer.toString('utf8', offset + 4, offset + 4 + length);
      offset += 4 + length;
      let message: unknown;
      try {
        // V8 parses without recursing, at any depth; only re-encoding is at risk (below).
        message = JSON.parse(body);
      } catch {
        return this.fail(`a frame that is not JSON (${JSON.stringify(body.slice(0, 40))})`);
      }
      if (nestingExceeds(body, MAX_FRAME_DEPTH)) {
        const frame = (typeof message === 'object' && message !== null ? message : {}) as { type?: unknown; id?: unknown };
        const id = frame.type === 'result' ? frame.id : undefined;
        if (typeof id !== 'string') return this.fail(`a frame nested more than ${MAX_FRAME_DEPTH} levels deep`);
        // The request fails; the worker, whose own encoder cannot write this, keeps serving.
        message = { type: 'result', id, ok: false, status: 500, detail: `The endpoint's output nests arrays and objects more than ${MAX_FRAME_DEPTH} levels deep, which the runtime does not pass on.`, executionMs: 0 };
      }
      this.onMessage(message);
    }
    this.buffer = offset === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
  }

  private fail(problem: string): void {
    this.broken = true;
    this.buffer = Buffer.alloc(0);
    this.onError(problem);
  }
}
