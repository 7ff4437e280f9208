/**
 * The digest a layer VHD's UniqueId derives from (when there is no dm-verity
 * root hash to use): SHA-256 over, for each 256 KiB segment of the
 * uncompressed tar in order, the segment's lane hash (lane-hash.ts: sixteen
 * 32-bit lanes, 64 bytes, little-endian) and its length (4 bytes,
 * little-endian; the last segment may be shorter; an empty tar has none).
 * The converter mixes the ext4 UUID into the UniqueId as well — a SHA-256
 * of all the file system's metadata (names, modes, owners, times, sizes,
 * xattrs, links) — so only file *contents* rest on the lane hashes. The
 * value is part of the output, pinned by `test/layer/golden-images.test.ts`.
 *
 * Why not SHA-256 per segment (until issue 11, round 4) nor CRC-32 (until
 * round 6): the UniqueId names a disk; it is not a security check
 * (dm-verity's root hash is, and replaces this digest when asked for), and
 * hashing every tar byte was the converter's largest single cost — SHA-256
 * at 1.7 GB/s, then `zlib.crc32` at 4.7 GB/s (85 ms of a 394 MiB /usr tar's
 * main thread), now the lane hash in WebAssembly at ~12 GiB/s on the read
 * buffers themselves (layer/README.md). Its 512 bits a segment also say
 * more than CRC-32's 32.
 *
 * Segments are cut at fixed offsets of the tar stream, so the digest does
 * not depend on how the input happened to be chunked.
 */
import { createHash } from 'node:crypto';
import { LANES_BYTES, STRIPE, absorbStripes, initialLanes } from './lane-hash.js';

/** Segment size: half a reused read buffer (layer/file-chunks.ts), so aligned reads are hashed in place. */
export const DIGEST_SEGMENT = 256 * 1024;

export class ContentDigest {
  private readonly outer = createHash('sha256');
  private lanes = initialLanes();
  /** Bytes of the current segment absorbed or staged. */
  private used = 0;
  /** The start of a stripe that arrived in pieces. */
  private readonly stage = Buffer.alloc(STRIPE);
  private staged = 0;
  private readonly tail = Buffer.alloc(LANES_BYTES + 4);

  /** Add bytes. Nothing of the chunk is kept: a reused buffer may be refilled at once. */
  update(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(DIGEST_SEGMENT - this.used, chunk.length - off);
      this.absorb(chunk, off, n);
      off += n;
      this.used += n;
      if (this.used === DIGEST_SEGMENT) this.fold();
    }
  }

  /** The digest of everything added (32 bytes). */
  digest(): Buffer {
    if (this.used > 0) this.fold();
    return this.outer.digest();
  }

  /** `n` bytes of `chunk` from `off`, all within the current segment. */
  private absorb(chunk: Buffer, off: number, n: number): void {
    if (this.staged > 0) {
      const k = Math.min(STRIPE - this.staged, n);
      chunk.copy(this.stage, this.staged, off, off + k);
      this.staged += k;
      off += k;
      n -= k;
      if (this.staged < STRIPE) return;
      absorbStripes(this.lanes, this.stage, 0, STRIPE);
      this.staged = 0;
    }
    const whole = n - (n % STRIPE);
    if (whole > 0) absorbStripes(this.lanes, chunk, off, whole);
    if (whole < n) {
      chunk.copy(this.stage, 0, off + whole, off + n);
      this.staged = n - whole;
    }
  }

  /** End the segment: its lanes (a short last stripe zero-padded) and length go into the outer hash. */
  private fold(): void {
    if (this.staged > 0) {
      this.stage.fill(0, this.staged);
      absorbStripes(this.lanes, this.stage, 0, STRIPE);
      this.staged = 0;
    }
    this.lanes.copy(this.tail, 0);
    this.tail.writeUInt32LE(this.used, LANES_BYTES);
    this.outer.update(this.tail); // copied in by OpenSSL: the buffer is free again at once
    this.lanes = initialLanes();
    this.used = 0;
  }
}
