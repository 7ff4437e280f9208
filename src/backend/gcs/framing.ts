/**
 * The bridge's framing: a 16-byte little-endian header (type u32, size u32
 * counting the header too, id u64) before a UTF-8 JSON body.
 *
 * The decoder takes bytes as they arrive and hands out whole frames. A size
 * under 16 or over the limit means the stream can no longer be cut into
 * messages, so it is an EBRIDGE error and the decoder refuses everything
 * after it; hcsshim's host checks the same bounds (it allows 64 KiB; a
 * DumpStacks answer alone was 6.3 KiB, so the limit here is an option).
 */
import { LcowError } from '../../errors.js';

export const HEADER_SIZE = 16;

/** Default largest message accepted from the guest (hcsshim's host: 64 KiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface Frame {
  type: number;
  id: bigint;
  body: Buffer;
}

export function encodeFrame(type: number, id: bigint, body: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_SIZE + body.length);
  frame.writeUInt32LE(type >>> 0, 0);
  frame.writeUInt32LE(HEADER_SIZE + body.length, 4);
  frame.writeBigUInt64LE(id, 8);
  body.copy(frame, HEADER_SIZE);
  return frame;
}

export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private broken: LcowError | undefined;

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  /** Bytes held that are not yet a whole frame (non-zero at EOF: the peer hung up mid-message). */
  get pending(): number {
    return this.buffered;
  }

  /** The frames completed by `chunk`; throws EBRIDGE (and keeps throwing) once the framing is lost. */
  push(chunk: Buffer): Frame[] {
    if (this.broken) throw this.broken;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < HEADER_SIZE) return frames;
      const head = this.peek(HEADER_SIZE);
      const size = head.readUInt32LE(4);
      if (size < HEADER_SIZE || size > this.maxMessageBytes) {
        this.broken = new LcowError(
          'EBRIDGE',
          `GCS bridge message of ${size} bytes (must be ${HEADER_SIZE}..${this.maxMessageBytes}); the stream cannot be framed any more`,
          {
            reason: 'bad-size',
            size,
            maxMessageBytes: this.maxMessageBytes,
            type: head.readUInt32LE(0),
          },
        );
        throw this.broken;
      }
      if (this.buffered < size) return frames;
      const whole = this.take(size);
      frames.push({ type: whole.readUInt32LE(0), id: whole.readBigUInt64LE(8), body: whole.subarray(HEADER_SIZE) });
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks.splice(0, this.chunks.length, Buffer.concat(this.chunks));
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const head = this.peek(n);
    const first = this.chunks[0]!;
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return head;
  }
}
