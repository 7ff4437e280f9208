/**
 * SHA-256 (FIPS 180-4) in JavaScript, for the converter's few short inputs:
 * the digests that name an image (the last step of stream-digest.ts, the
 * ext4 hash seed, the VHD footer's UniqueId, an empty file system's UUID)
 * are SHA-256 over a few dozen bytes each. Without TurboFan (which
 * `lcow convert` turns off, cli/lean-heap.ts) this runs at ~5 MB/s, so it is
 * no bulk hash: dm-verity's tree stays on `node:crypto`. But loading
 * `node:crypto` (its 36 internal modules, Node's streams among them) costs
 * 7–10 ms at every `lcow convert` start on this project's 2-vCPU machine,
 * where these hashes take microseconds (issue 11, round 8).
 *
 * The same interface as the part of `crypto.Hash` the converter used:
 * `update()` chains, `digest()` once.
 */

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74,
  0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d,
  0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
  0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
  0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

export class Sha256 {
  private readonly h = new Uint32Array(INITIAL);
  private readonly w = new Uint32Array(64);
  /** The start of a block that arrived in pieces. */
  private readonly block = new Uint8Array(64);
  private buffered = 0;
  private length = 0;
  private done = false;

  /** Add bytes (a string as UTF-8). */
  update(data: Uint8Array | string): this {
    if (this.done) throw new Error('Sha256: update() after digest()');
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    this.length += bytes.length;
    let off = 0;
    if (this.buffered > 0) {
      const n = Math.min(64 - this.buffered, bytes.length);
      this.block.set(bytes.subarray(0, n), this.buffered);
      this.buffered += n;
      off = n;
      if (this.buffered < 64) return this;
      this.compress(this.block, 0);
      this.buffered = 0;
    }
    for (; off + 64 <= bytes.length; off += 64) this.compress(bytes, off);
    if (off < bytes.length) {
      this.block.set(bytes.subarray(off), 0);
      this.buffered = bytes.length - off;
    }
    return this;
  }

  /** The 32-byte digest of everything added; the object is spent. */
  digest(): Buffer {
    if (this.done) throw new Error('Sha256: digest() twice');
    const bits = this.length * 8;
    const b = this.block;
    b[this.buffered++] = 0x80;
    if (this.buffered > 56) {
      b.fill(0, this.buffered);
      this.compress(b, 0);
      this.buffered = 0;
    }
    b.fill(0, this.buffered, 56);
    // The length in bits, big-endian, in the last 8 bytes (inputs stay far below 2^53 bits).
    const high = Math.floor(bits / 2 ** 32);
    const low = bits >>> 0;
    b[56] = high >>> 24;
    b[57] = high >>> 16;
    b[58] = high >>> 8;
    b[59] = high;
    b[60] = low >>> 24;
    b[61] = low >>> 16;
    b[62] = low >>> 8;
    b[63] = low;
    this.compress(b, 0);
    this.done = true;
    const out = Buffer.allocUnsafe(32);
    for (let i = 0; i < 8; i++) out.writeUInt32BE(this.h[i]!, i * 4);
    return out;
  }

  private compress(bytes: Uint8Array, at: number): void {
    const w = this.w;
    const h = this.h;
    for (let i = 0; i < 16; i++) {
      const p = at + i * 4;
      w[i] = (bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h[0]!;
    let b = h[1]!;
    let c = h[2]!;
    let d = h[3]!;
    let e = h[4]!;
    let f = h[5]!;
    let g = h[6]!;
    let hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Array<Uint8Array | string>): Buffer {
  const s = new Sha256();
  for (const p of parts) s.update(p);
  return s.digest();
}
