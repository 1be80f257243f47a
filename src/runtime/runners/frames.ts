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
  /** Bytes read but not yet decoded, kept as they came: joined only once a whole frame is in. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private broken = false;

  constructor(private readonly onMessage: (message: unknown) => void, private readonly onError: (problem: string) => void) {}

  push(chunk: Buffer): void {
    if (this.broken) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Joining every read onto what came before made a large frame cost quadratic time (a
    // 64 MB output in 64 KB reads held the event loop for 47 s): wait until the frame is whole.
    const needed = this.nextFrameBytes();
    if (this.pendingBytes < needed && needed - 4 <= MAX_FRAME_BYTES) return;
    const buffer = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const length = buffer.readUInt32BE(offset);
      if (length > MAX_FRAME_BYTES) return this.fail(`a frame of ${length} bytes, over the ${MAX_FRAME_BYTES}-byte limit`);
      if (buffer.length - offset - 4 < length) break;
      const body = buffer.toString('utf8', offset + 4, offset + 4 + length);
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
    const rest = buffer.subarray(offset);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
  }

  /** Bytes the next whole frame takes, its header included (4 until the header is in). */
  private nextFrameBytes(): number {
    if (this.pendingBytes < 4) return 4;
    const first = this.pending[0]!;
    const head = first.length >= 4 ? first : Buffer.concat(this.pending, this.pendingBytes);
    return 4 + head.readUInt32BE(0);
  }

  private fail(problem: string): void {
    this.broken = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.onError(problem);
  }
}
