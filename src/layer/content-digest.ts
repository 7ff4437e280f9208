/**
 * The digest a layer VHD's UniqueId derives from (when there is no dm-verity
 * root hash to use): SHA-256 over the SHA-256 of each 256 KiB segment of the
 * uncompressed tar, in order (the last segment may be shorter; an empty tar
 * has none). The value is part of the output, pinned by
 * `test/layer/golden-images.test.ts`.
 *
 * Segments are hashed on the thread that feeds them, as they arrive. They
 * were WebCrypto jobs on libuv's thread pool before (issue 11), overlapped
 * with parsing and writing; measured side by side on this project's 2-core
 * machine (load 2–3.5, whole `lcow convert --no-sync` processes, medians of
 * 9), hashing here takes less CPU and less wall time: 126 MiB node_modules
 * tar 0.49 → 0.43 s CPU, 0.43 → 0.41 s wall; 549 MiB /usr tar 1.29 → 1.06 s
 * CPU, 1.11 → 0.99 s wall. Each WebCrypto job copies its 256 KiB, zeroes the
 * copy when it is freed (OPENSSL_cleanse), looks the digest up again and
 * crosses threads twice: that cost the main thread about as much as hashing
 * (SHA-NI, ~1.7 GB/s) does, and the pool's parallelism pays only on an idle
 * machine, not under a pull that converts several layers at once. Hashing
 * is still ~30% of a conversion's CPU on the /usr tar (`--no-vhd`, which
 * needs no digest: 1.13 → 0.77 s CPU).

 * Segments are cut at fixed offsets of the tar stream, so the digest does
 * not depend on how the input happened to be chunked.
 */
import { createHash } from 'node:crypto';

/** Segment size: a reused read buffer's size (layer/file-chunks.ts), so aligned reads are hashed in place. */
export const DIGEST_SEGMENT = 256 * 1024;

export class ContentDigest {
  private readonly outer = createHash('sha256');
  /** Bytes of a segment that arrived in pieces; allocated at first need. */
  private partial: Buffer | undefined;
  private used = 0;

  /** Add bytes. Nothing of the chunk is kept: a reused buffer may be refilled at once. */
  update(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.used === 0 && chunk.length - off >= DIGEST_SEGMENT) {
        this.fold(chunk.subarray(off, off + DIGEST_SEGMENT));
        off += DIGEST_SEGMENT;
        continue;
      }
      const partial = (this.partial ??= Buffer.allocUnsafe(DIGEST_SEGMENT));
      const n = Math.min(DIGEST_SEGMENT - this.used, chunk.length - off);
      chunk.copy(partial, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === DIGEST_SEGMENT) {
        this.fold(partial);
        this.used = 0;
      }
    }
  }

  /** The digest of everything added (32 bytes). */
  digest(): Buffer {
    if (this.used > 0 && this.partial) this.fold(this.partial.subarray(0, this.used));
    this.used = 0;
    return this.outer.digest();
  }

  private fold(segment: Buffer): void {
    this.outer.update(createHash('sha256').update(segment).digest());
  }
}
