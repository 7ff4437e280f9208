/**
 * A random-access view of a disk's bytes, whatever the container format:
 * the ext4 reader reads a raw image, a fixed VHD (the `layer.vhd` of a
 * read-only layer) or a dynamic VHDX (a sandbox) through this one interface.
 */
import type { FileHandle } from 'node:fs/promises';
import { LcowError } from '../errors.js';

export interface BlockSource {
  /** Size of the disk in bytes (for a VHD: without its footer; for a VHDX: the virtual size). */
  readonly size: number;
  /** Read exactly `length` bytes at `offset`; bytes past `size` are an EBADIMAGE error. */
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export type BlockSourceKind = 'raw' | 'vhd-fixed' | 'vhdx';

/** Read exactly `length` bytes at `position` from a file handle (short read → EBADIMAGE). */
export async function readExactly(fh: FileHandle, position: number, length: number, file: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new LcowError('EBADIMAGE', `unexpected end of file reading ${length} bytes at ${position}`, { file, position, length });
    done += bytesRead;
  }
  return buf;
}

/** The first `size` bytes of a plain file. */
export class FileBlockSource implements BlockSource {
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly file: string,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(offset, length, this.size, this.file);
    if (length === 0) return Buffer.alloc(0);
    return readExactly(this.fh, offset, length, this.file);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

export function checkRange(offset: number, length: number, size: number, file: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new LcowError('EBADIMAGE', `read of ${length} bytes at ${offset} is outside the ${size}-byte disk`, { file, offset, length, size });
  }
}

/**
 * A small LRU cache of fixed-size chunks in front of another source. Metadata
 * reads (inodes, directory blocks, extent nodes) are small and repeat; large
 * reads (file data) go straight through so they do not flush the cache.
 */
export class CachedBlockSource implements BlockSource {
  private readonly chunks = new Map<number, Buffer>();

  constructor(
    private readonly inner: BlockSource,
    private readonly chunkSize = 64 * 1024,
    private readonly capacity = 256,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(offset, length, this.size, 'cache');
    if (length > this.chunkSize * 2) return this.inner.read(offset, length);
    const first = Math.floor(offset / this.chunkSize);
    const last = Math.floor((offset + length - 1) / this.chunkSize);
    if (length === 0) return Buffer.alloc(0);
    if (first === last) {
      const c = await this.chunk(first);
      return Buffer.from(c.subarray(offset - first * this.chunkSize, offset - first * this.chunkSize + length));
    }
    const out = Buffer.allocUnsafe(length);
    for (let i = first; i <= last; i++) {
      const c = await this.chunk(i);
      const base = i * this.chunkSize;
      const from = Math.max(offset, base);
      const to = Math.min(offset + length, base + c.length);
      c.copy(out, from - offset, from - base, to - base);
    }
    return out;
  }

  private async chunk(i: number): Promise<Buffer> {
    const hit = this.chunks.get(i);
    if (hit) {
      this.chunks.delete(i);
      this.chunks.set(i, hit); // most recently used goes last
      return hit;
    }
    const base = i * this.chunkSize;
    const c = await this.inner.read(base, Math.min(this.chunkSize, this.size - base));
    this.chunks.set(i, c);
    if (this.chunks.size > this.capacity) this.chunks.delete(this.chunks.keys().next().value as number);
    return c;
  }

  async close(): Promise<void> {
    this.chunks.clear();
    await this.inner.close();
  }
}
