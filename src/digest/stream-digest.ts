/**
 * The digest that names a layer image (when there is no dm-verity root hash
 * to do it): the lane hash (lane-hash.ts: sixteen 32-bit lanes) run over the
 * whole input as one stream of 64-byte stripes, the last one zero-padded,
 * then SHA-256 over the lanes (64 bytes) and the input's length (8 bytes,
 * little-endian). The converter takes one of the tar's bytes (the VHD
 * footer's UniqueId) and one of the file system's metadata blocks (the ext4
 * UUID): both are part of the output, pinned by
 * `test/layer/golden-images.test.ts`.
 *
 * Why this and not SHA-256: the UniqueId and the UUID name a disk; they are
 * not a security check (dm-verity's root hash is, and replaces this digest
 * when asked for). Hashing every tar byte was once the converter's largest
 * single cost — SHA-256 at 1.7 GB/s, then `zlib.crc32` at 4.7 GB/s, now the
 * lane hash in WebAssembly at ~12 GiB/s on the read buffers themselves
 * (layer/README.md). Until issue 11's round 8 a SHA-256 ran over each
 * 256 KiB segment's lanes, and the metadata had a SHA-256 of its own: that
 * needed `node:crypto`, whose loading alone cost 7–10 ms of every
 * `lcow convert`, and a JavaScript SHA-256 over that much is slower still
 * without TurboFan (sha256.ts). Now SHA-256 only folds the final 72 bytes.
 *
 * The digest does not depend on how the input happened to be chunked.
 */
import { LANES_BYTES, STRIPE, absorbStripes, initialLanes } from './lane-hash.js';
import { Sha256 } from './sha256.js';

export class StreamDigest {
  private readonly lanes = initialLanes();
  private length = 0;
  /** The start of a stripe that arrived in pieces. */
  private readonly stage = Buffer.alloc(STRIPE);
  private staged = 0;
  private done = false;

  /** Add bytes. Nothing of the chunk is kept: a reused buffer may be refilled at once. */
  update(chunk: Uint8Array): void {
    if (this.done) throw new Error('StreamDigest: update() after digest()');
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let off = 0;
    let n = bytes.length;
    this.length += n;
    if (this.staged > 0) {
      const k = Math.min(STRIPE - this.staged, n);
      bytes.copy(this.stage, this.staged, 0, k);
      this.staged += k;
      off = k;
      n -= k;
      if (this.staged < STRIPE) return;
      absorbStripes(this.lanes, this.stage, 0, STRIPE);
      this.staged = 0;
    }
    const whole = n - (n % STRIPE);
    if (whole > 0) absorbStripes(this.lanes, bytes, off, whole);
    if (whole < n) {
      bytes.copy(this.stage, 0, off + whole, off + n);
      this.staged = n - whole;
    }
  }

  /** The digest of everything added (32 bytes); the object is spent. */
  digest(): Buffer {
    if (this.done) throw new Error('StreamDigest: digest() twice');
    this.done = true;
    if (this.staged > 0) {
      this.stage.fill(0, this.staged);
      absorbStripes(this.lanes, this.stage, 0, STRIPE);
    }
    const length = Buffer.alloc(8);
    length.writeUInt32LE(this.length % 2 ** 32, 0);
    length.writeUInt32LE(Math.floor(this.length / 2 ** 32), 4);
    return new Sha256().update(this.lanes.subarray(0, LANES_BYTES)).update(length).digest();
  }
}
