import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { StreamDigest, releaseHashableBuffers, takeHashableBuffers } from '../../src/digest/index.js';

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/**
 * The lane hash, written plainly from its definition (lane-hash.ts): a judge
 * that shares no code with the WebAssembly nor with the JavaScript fallback.
 */
function plainLanes(stream: Buffer): Buffer {
  const padded = Buffer.alloc(Math.ceil(stream.length / 64) * 64);
  stream.copy(padded);
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

/** The definition: SHA-256 over the whole stream's lanes and its length (64-bit little-endian). */
function expected(data: Buffer): Buffer {
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(data.length));
  return sha256(Buffer.concat([plainLanes(data), length]));
}

/** Chunk sizes used below: a read buffer's, and the 256 KiB of the segments before round 8. */
const SLOT = 512 * 1024;

function digestOf(chunks: Buffer[]): Buffer {
  const d = new StreamDigest();
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

describe('StreamDigest', () => {
  const data = Buffer.alloc(SLOT * 5 + 12345);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;

  it("is the hash of the stream's lanes and length, whatever the chunking", () => {
    const want = expected(data);
    expect(digestOf([data])).toEqual(want);
    expect(digestOf(split(data, [SLOT]))).toEqual(want);
    expect(digestOf(split(data, [1, 511, 65536, SLOT * 3 + 7]))).toEqual(want);
    expect(digestOf(split(data, [63, 1, 65, 127]))).toEqual(want);
    expect(digestOf(split(data, [4096]))).toEqual(want);
  });

  it('keeps nothing of what it is given: a reused buffer may be refilled at once', () => {
    const d = new StreamDigest();
    const reused = Buffer.alloc(SLOT);
    for (const chunk of split(data, [SLOT - 5])) {
      reused.fill(0);
      chunk.copy(reused);
      d.update(reused.subarray(0, chunk.length));
      reused.fill(0xee);
    }
    expect(d.digest()).toEqual(expected(data));
  });

  it('hashes a chunk held in its own memory (the read buffers) the same as any other', () => {
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
      const plain = await import('../../src/digest/index.js');
      const d = new plain.StreamDigest();
      for (const c of split(data.subarray(0, SLOT + 4099), [1000, 70000])) d.update(c);
      expect(d.digest()).toEqual(expected(data.subarray(0, SLOT + 4099)));
      const chunks = plain;
      expect(chunks.takeHashableBuffers(1, 512 * 1024)).toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });

  it('tells apart segments that differ in one bit', () => {
    const flipped = Buffer.from(data);
    flipped[SLOT * 4 + 77]! ^= 0x10;
    expect(digestOf([flipped])).not.toEqual(digestOf([data]));
  });

  it('of nothing, is the hash of the initial lanes and a zero length', () => {
    expect(digestOf([])).toEqual(expected(Buffer.alloc(0)));
  });

  it('tells apart streams that differ only in order (two stripes swapped)', () => {
    const swapped = Buffer.from(data);
    data.copy(swapped, 0, 64, 128);
    data.copy(swapped, 64, 0, 64);
    expect(swapped.equals(data)).toBe(false);
    expect(digestOf([swapped])).not.toEqual(digestOf([data]));
  });

  it('is spent by digest(): a second digest or update is a bug, and says so', () => {
    const d = new StreamDigest();
    d.update(data.subarray(0, 10));
    d.digest();
    expect(() => d.digest()).toThrow(/twice/);
    expect(() => d.update(data.subarray(0, 1))).toThrow(/after digest/);
  });
});
