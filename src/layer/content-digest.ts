/**
 * The digest a layer VHD's UniqueId derives from (when there is no dm-verity
 * root hash to use): SHA-256 over the SHA-256 of each 256 KiB segment of the
 * uncompressed tar, in order (the last segment may be shorter; an empty tar
 * has none).
 *
 * Why segments rather than one SHA-256 of the stream: a streaming hash can
 * only run on the thread that feeds it, and over a 400 MiB tar it was a
 * quarter of the converter's main-thread time. Each segment's hash is a
 * WebCrypto job on libuv's thread pool instead (no extra V8 isolate, so no
 * extra ~12 MiB of memory as a worker thread would cost), overlapped with
 * parsing and writing. The result is as deterministic and as
 * content-sensitive as before; its value differs from the old flat hash,
 * which `test/layer/golden-images.test.ts` pins.
 *
 * Segments are cut at fixed offsets of the tar stream, so the digest does
 * not depend on how the input happened to be chunked.
 */
import { createHash, webcrypto } from 'node:crypto';

/** Segment size: a reused read buffer's size (layer/file-chunks.ts), so aligned reads are hashed without a copy of ours. */
export const DIGEST_SEGMENT = 256 * 1024;
/** Segments being hashed at once; each holds a copy of its bytes until done (2 MiB in all). */
const MAX_IN_FLIGHT = 8;

export class ContentDigest {
  private readonly outer = createHash('sha256');
  private readonly inFlight: Array<Promise<ArrayBuffer>> = [];
  /** Bytes of a segment that arrived in pieces; allocated at first need. */
  private partial: Buffer | undefined;
  private used = 0;
  /** Folding is serialised so that segment hashes enter the outer hash in order whoever awaits. */
  private settling: Promise<void> = Promise.resolve();

  /**
   * Add bytes. The chunk is copied (or hashed) before this returns, so a
   * reused buffer may be refilled at once. Returns a promise only when too
   * many segments are still being hashed: await it (backpressure).
   */
  update(chunk: Buffer): Promise<void> | undefined {
    let off = 0;
    while (off < chunk.length) {
      if (this.used === 0 && chunk.length - off >= DIGEST_SEGMENT) {
        this.start(chunk.subarray(off, off + DIGEST_SEGMENT));
        off += DIGEST_SEGMENT;
        continue;
      }
      const partial = (this.partial ??= Buffer.allocUnsafe(DIGEST_SEGMENT));
      const n = Math.min(DIGEST_SEGMENT - this.used, chunk.length - off);
      chunk.copy(partial, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === DIGEST_SEGMENT) {
        this.start(partial);
        this.used = 0;
      }
    }
    return this.inFlight.length > MAX_IN_FLIGHT ? this.settle(MAX_IN_FLIGHT) : undefined;
  }

  /** The digest of everything added (32 bytes). */
  async digest(): Promise<Buffer> {
    if (this.used > 0 && this.partial) this.start(this.partial.subarray(0, this.used));
    this.used = 0;
    await this.settle(0);
    return this.outer.digest();
  }

  /** Stop: nothing more will be asked (the in-flight jobs finish on their own; their results are dropped). */
  abandon(): void {
    for (const p of this.inFlight.splice(0)) p.catch(() => undefined);
  }

  private start(segment: Buffer): void {
    // WebCrypto copies its input before it returns, and hashes on the thread pool.
    const job = webcrypto.subtle.digest('SHA-256', segment);
    job.catch(() => undefined); // observed in settle(); never an unhandled rejection meanwhile
    this.inFlight.push(job);
  }

  /** Fold finished segment hashes into the outer hash, in order, until at most `keep` are in flight. */
  private settle(keep: number): Promise<void> {
    this.settling = this.settling.then(async () => {
      while (this.inFlight.length > keep) this.outer.update(new Uint8Array(await this.inFlight.shift()!));
    });
    return this.settling;
  }
}
