/**
 * Where the reader's bytes come from: a stream it pulls from, or a file it
 * reads at positions, where skipping a body is a seek (indexing the members
 * of a large archive reads only its headers).
 */
import type { PositionalFile } from '../fd-file.js';

const EMPTY = Buffer.alloc(0);

export interface ByteReader {
  /** Bytes handed out or skipped so far (the tar stream offset). */
  readonly position: number;
  /** Up to `n` bytes (fewer only at end of input). */
  read(n: number): Promise<Buffer>;
  /** At least one and at most `max` bytes; empty at end of input. */
  readSome(max: number): Promise<Buffer>;
  /** Discard `n` bytes; returns how many were actually skipped (less at end of input). */
  skip(n: number): Promise<number>;
  /** Read and drop everything that is left. */
  drain(): Promise<void>;
  /** Stop early: release the input. */
  close(): Promise<void>;
  /**
   * `n` bytes at once when they are already in memory (zero-copy), else
   * undefined and nothing consumed: lets the reader skip an await per header.
   */
  takeNow?(n: number): Buffer | undefined;
  /** Discard `n` bytes at once when they are already in memory (true), else nothing (false): no await, no slice. */
  skipNow?(n: number): boolean;
}

/**
 * A pull reader over an AsyncIterable<Buffer>: the parser asks for exactly
 * the bytes it needs and nothing more is read from upstream until it asks
 * again. That is how backpressure works here — a Node Readable consumed
 * through its async iterator stays paused while the consumer is busy —
 * and why memory stays at one upstream chunk whatever the file sizes.
 * Slices are views into upstream chunks (no copies on the hot path).
 */
export class ByteSource implements ByteReader {
  private readonly it: AsyncIterator<Buffer | Uint8Array | string>;
  /** The upstream chunk being consumed, from `off` on (one view per chunk, not one per slice taken). */
  private chunk: Buffer = EMPTY;
  private off = 0;
  private eof = false;
  /** Bytes handed out so far (the tar stream offset). */
  position = 0;

  constructor(input: AsyncIterable<Buffer | Uint8Array | string>) {
    this.it = input[Symbol.asyncIterator]();
  }

  /** Make at least one byte available; false at end of input. */
  private async fill(): Promise<boolean> {
    while (this.off === this.chunk.length) {
      if (this.eof) return false;
      const r = await this.it.next();
      if (r.done) {
        this.eof = true;
        return false;
      }
      const v = r.value;
      this.chunk = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      this.off = 0;
    }
    return true;
  }

  /**
   * Up to `n` bytes (fewer only at end of input). Zero-copy when the current
   * chunk holds them, which for 512-byte headers is nearly always.
   */
  async read(n: number): Promise<Buffer> {
    if (!(await this.fill())) return EMPTY;
    if (this.chunk.length - this.off >= n) return this.take(n);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n && (await this.fill())) {
      const part = this.take(Math.min(n - got, this.chunk.length - this.off));
      parts.push(part);
      got += part.length;
    }
    return Buffer.concat(parts, got);
  }

  takeNow(n: number): Buffer | undefined {
    return this.chunk.length - this.off >= n ? this.take(n) : undefined;
  }

  skipNow(n: number): boolean {
    if (this.chunk.length - this.off < n) return false;
    this.off += n;
    this.position += n;
    return true;
  }

  /** The next slice of at most `max` bytes, whatever the current chunk holds; empty at end of input. */
  async readSome(max: number): Promise<Buffer> {
    if (!(await this.fill())) return EMPTY;
    return this.take(Math.min(max, this.chunk.length - this.off));
  }

  /** Discard `n` bytes; returns how many were actually skipped (less at end of input). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0 && (await this.fill())) {
      const k = Math.min(left, this.chunk.length - this.off);
      this.skipNow(k);
      left -= k;
    }
    return n - left;
  }

  /** Read and drop everything that is left (so a writer piping into us never sees EPIPE). */
  async drain(): Promise<void> {
    while (await this.fill()) this.skipNow(this.chunk.length - this.off);
  }

  /** Stop reading early: lets the upstream iterator release its resources. */
  async close(): Promise<void> {
    this.eof = true;
    this.chunk = EMPTY;
    this.off = 0;
    await this.it.return?.();
  }

  private take(n: number): Buffer {
    const out = this.chunk.subarray(this.off, this.off + n);
    this.off += n;
    this.position += n;
    return out;
  }
}

/**
 * The first `size` bytes of an open file, read at positions. The handle stays
 * the caller's: close() only stops reading.
 */
export class FileBytes implements ByteReader {
  position = 0;

  constructor(
    private readonly fh: PositionalFile,
    private readonly size: number,
    /** Largest single read (bodies arrive in slices of at most this). */
    private readonly maxRead = 1 << 20,
  ) {}

  async read(n: number): Promise<Buffer> {
    const len = Math.max(0, Math.min(n, this.size - this.position));
    if (len === 0) return EMPTY;
    const buf = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await this.fh.read(buf, done, len - done, this.position + done);
      if (bytesRead === 0) break; // the file shrank under us: a short read, which the reader reports as truncation
      done += bytesRead;
    }
    this.position += done;
    return done === len ? buf : buf.subarray(0, done);
  }

  readSome(max: number): Promise<Buffer> {
    return this.read(Math.min(max, this.maxRead));
  }

  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.size - this.position));
    this.position += k;
    return k;
  }

  async drain(): Promise<void> {
    this.position = this.size;
  }

  async close(): Promise<void> {}
}
