/**
 * Length-prefixed JSON frames, the wire format between the runtime and its Python workers
 * (see workerProtocol.ts): a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
 */

export function encodeFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Reassembles frames from arbitrary chunks: a frame may span reads, a read may hold many. */
export class FrameDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly onMessage: (message: unknown) => void) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let offset = 0;
    while (this.buffer.length - offset >= 4) {
      const length = this.buffer.readUInt32BE(offset);
      if (this.buffer.length - offset - 4 < length) break;
      const body = this.buffer.toString('utf8', offset + 4, offset + 4 + length);
      offset += 4 + length;
      this.onMessage(JSON.parse(body));
    }
    this.buffer = offset === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
  }
}
