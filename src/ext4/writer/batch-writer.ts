/**
 * Append-only, batched positional writes to a file handle. Small files are
 * coalesced into large writes (1 MiB by default: each write is a round trip
 * through libuv's pool, and with the reads at 512 KiB, 1 MiB batches cut
 * the converter's wall time by 5% against 512 KiB ones).
 * Several batches may be in flight while the next one fills (`depth`
 * buffers in all): a layer alternates between stretches of large files,
 * where the writer thread sets the pace, and stretches of small ones, where
 * parsing does; a second buffer lets the writes of the first overlap the
 * parsing of the second. Two, not three: on this project's VMs every page
 * of fresh memory costs ~12 µs the first time it is touched, and a third
 * 1 MiB buffer cost more than it saved (issue 11, round 7). Callers never
 * hand over ownership of their buffers: bytes are copied.
 */
import type { PositionalFile } from '../../fd-file.js';
import { LcowError } from '../../errors.js';
import { writeAll as writeFully } from '../../write-all.js';
import { BLOCK_SIZE } from '../format/constants.js';

export class BatchWriter {
  private buf: Buffer;
  /** Buffers whose writes have landed, ready to fill. */
  private readonly free: Buffer[] = [];
  private used = 0;
  /** File offset of buf[0]. */
  private bufStart: number;
  /** Writes started and not yet awaited, oldest first (each returns its buffer to `free`). */
  private readonly inflight: Promise<void>[] = [];
  /** The first write that failed, kept until someone waits for the writer. */
  private failure: { err: unknown } | undefined;
  /** Called with every batch just before it is written (e.g. to hash metadata). */
  onBatch: ((bytes: Buffer) => void) | undefined;

  constructor(
    private readonly fh: PositionalFile,
    start: number,
    batchSize = 1024 * 1024,
    /** Buffers in all (≥ 2): one filling, the others being written. */
    depth = 2,
  ) {
    this.buf = Buffer.allocUnsafe(batchSize);
    for (let i = 1; i < Math.max(2, depth); i++) this.free.push(Buffer.allocUnsafe(batchSize));
    this.bufStart = start;
  }

  /** The file offset the next byte goes to. */
  get position(): number {
    return this.bufStart + this.used;
  }

  /** True when `n` more bytes fit the current buffer without filling it (appendNow/alignNow then need no write). */
  fitsNow(n: number): boolean {
    return this.failure === undefined && this.used + n < this.buf.length;
  }

  /** append() without an await; only after fitsNow() said the bytes (and their alignment) fit. */
  appendNow(data: Buffer): void {
    data.copy(this.buf, this.used);
    this.used += data.length;
  }

  /** alignToBlock() without an await; only after fitsNow(). */
  alignNow(): void {
    const rem = (this.bufStart + this.used) % BLOCK_SIZE;
    if (rem === 0) return;
    const end = this.used + BLOCK_SIZE - rem;
    Uint8Array.prototype.fill.call(this.buf, 0, this.used, end);
    this.used = end;
  }

  async append(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const n = Math.min(data.length - off, this.buf.length - this.used);
      data.copy(this.buf, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === this.buf.length) await this.rotate();
    }
  }

  async zeros(count: number): Promise<void> {
    let left = count;
    while (left > 0) {
      const n = Math.min(left, this.buf.length - this.used);
      // The typed-array fill: Buffer's own validates its arguments in JavaScript (a call per file here).
      Uint8Array.prototype.fill.call(this.buf, 0, this.used, this.used + n);
      this.used += n;
      left -= n;
      if (this.used === this.buf.length) await this.rotate();
    }
  }

  /** Zero-fill up to the next block boundary. */
  async alignToBlock(): Promise<void> {
    const rem = this.position % BLOCK_SIZE;
    if (rem !== 0) await this.zeros(BLOCK_SIZE - rem);
  }

  /** Write everything buffered and wait for all writes to land. */
  async flush(): Promise<void> {
    if (this.used > 0) await this.rotate();
    while (this.inflight.length > 0) await this.inflight.shift();
    if (this.failure) throw this.failure.err;
  }

  /** Start writing the full buffer and switch to a free one (waiting for the oldest write when none is). */
  private async rotate(): Promise<void> {
    if (this.failure) throw this.failure.err;
    while (this.free.length === 0) await this.inflight.shift();
    const out = this.buf;
    const len = this.used;
    const pos = this.bufStart;
    this.onBatch?.(out.subarray(0, len));
    const write = writeAll(this.fh, out, len, pos).then(() => {
      this.free.push(out);
    });
    // Remembered now (no unhandled rejection); thrown by the next rotate or flush.
    write.catch((err: unknown) => {
      this.failure ??= { err };
    });
    this.inflight.push(write);
    this.buf = this.free.pop()!;
    this.bufStart += len;
    this.used = 0;
  }
}

/** All of `buf[0, len)` at `position`; a failed write is EIO naming where it was to go. */
export async function writeAll(fh: PositionalFile, buf: Buffer, len: number, position: number): Promise<void> {
  try {
    await writeFully(fh, buf, position, len);
  } catch (err) {
    throw new LcowError('EIO', `write failed at offset ${position} (${len} bytes)`, { position, length: len }, { cause: err });
  }
}
