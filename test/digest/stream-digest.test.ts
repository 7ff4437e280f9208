import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { ContentDigest, DIGEST_SEGMENT } from '../../src/layer/content-digest.js';
import { releaseHashableBuffers, takeHashableBuffers } from '../../src/layer/lane-hash.js';

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/**
 * The lane hash, written plainly from its definition (lane-hash.ts): a judge
 * that shares no code with the WebAssembly nor with the JavaScript fallback.
 */
function plainLanes(segment: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(segment.length / 64) * 64);
  segment.copy(padded);
  const lanes: number[] = [];
  for (let i = 0; i < 16; i++) lanes.push(Number((0x9e3779b1n * BigInt(i + 1)) % 2n ** 32n));
  for (let at = 0; at < padded.length; at += 64) {
    for (let i = 0; i < 16; i++) {
      const word = BigInt(padded.readUInt32LE(at + i * 4));
      const v = (BigInt(lanes[i]!) + word * 0x85ebca77n) % 2n ** 32n;
      const rotated = ((v << 13n) | (v >> 19n)) % 2n ** 32n;
      lanes[i] = Number((rotated * 0x9e3779b1n) % 2n ** 32n);
    }
  }
  const out = Buffer.alloc(64);
  lanes.forEach((v, i) => out.writeUInt32LE(v, i * 4));
  return out;
}

/** The definition: SHA-256 over each segment's lanes and little-endian length. */
function expected(data: Buffer): Buffer {
  const outer = createHash('sha256');
  for (let at = 0; at < data.length; at += DIGEST_SEGMENT) {
    const segment = data.subarray(at, at + DIGEST_SEGMENT);
    const length = Buffer.alloc(4);
    length.writeUInt32LE(segment.length);
    outer.update(plainLanes(segment)).update(length);
  }
  return outer.digest();
}

function digestOf(chunks: Buffer[]): Buffer {
  const d = new ContentDigest();
  for (const c of chunks) d.update(c);
  return d.digest();
}

function split(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('ContentDigest', () => {
  const data = Buffer.alloc(DIGEST_SEGMENT * 11 + 12345);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;

  it("is the hash of the segments' lanes and lengths, whatever the chunking", () => {
    const want = expected(data);
    expect(digestOf([data])).toEqual(want);
    expect(digestOf(split(data, [DIGEST_SEGMENT]))).toEqual(want);
    expect(digestOf(split(data, [1, 511, 65536, DIGEST_SEGMENT * 3 + 7]))).toEqual(want);
    expect(digestOf(split(data, [4096]))).toEqual(want);
  });

  it('keeps nothing of what it is given: a reused buffer may be refilled at once', () => {
    const d = new ContentDigest();
    const reused = Buffer.alloc(DIGEST_SEGMENT);
    for (const chunk of split(data, [DIGEST_SEGMENT])) {
      reused.fill(0);
      chunk.copy(reused);
      d.update(reused.subarray(0, chunk.length));
      reused.fill(0xee);
    }
    expect(d.digest()).toEqual(expected(data));
  });

  it('hashes a segment held in its own memory (the read buffers) the same as any other', () => {
    const [slot] = takeHashableBuffers(1, 512 * 1024)!;
    try {
      data.copy(slot!, 0, 0, slot!.length);
      expect(digestOf([slot!, data.subarray(slot!.length)])).toEqual(expected(data));
      expect(digestOf([slot!.subarray(3), data.subarray(slot!.length)])).toEqual(expected(data.subarray(3)));
    } finally {
      releaseHashableBuffers([slot!]);
    }
  });

  it('a short last stripe is zero-padded, and the length tells the padding from real zeros', () => {
    const short = data.subarray(0, 100);
    const padded = Buffer.concat([short, Buffer.alloc(28)]);
    expect(digestOf([short])).toEqual(expected(short));
    expect(digestOf([short])).not.toEqual(digestOf([padded]));
  });

  it('is the same without WebAssembly (LCOW_NO_WASM=1, node --jitless)', async () => {
    vi.resetModules();
    vi.stubEnv('LCOW_NO_WASM', '1');
    try {
      const plain = await import('../../src/layer/content-digest.js');
      const d = new plain.ContentDigest();
      for (const c of split(data.subarray(0, DIGEST_SEGMENT + 4099), [1000, 70000])) d.update(c);
      expect(d.digest()).toEqual(expected(data.subarray(0, DIGEST_SEGMENT + 4099)));
      const chunks = await import('../../src/layer/lane-hash.js');
      expect(chunks.takeHashableBuffers(1, 512 * 1024)).toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });

  it('tells apart segments that differ in one bit', () => {
    const flipped = Buffer.from(data);
    flipped[DIGEST_SEGMENT * 5 + 77]! ^= 0x10;
    expect(digestOf([flipped])).not.toEqual(digestOf([data]));
  });

  it('of nothing, is the hash of nothing', async () => {
    expect(digestOf([])).toEqual(sha256(Buffer.alloc(0)));
  });
});
