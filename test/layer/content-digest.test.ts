import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ContentDigest, DIGEST_SEGMENT } from '../../src/layer/content-digest.js';

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** CRC-32 (ISO-HDLC, zlib's), bit by bit: a judge that shares no code with node:zlib. */
function plainCrc32(b: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of b) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The definition, written plainly: SHA-256 over the little-endian CRC-32 of each segment. */
function expected(data: Buffer): Buffer {
  const outer = createHash('sha256');
  for (let at = 0; at < data.length; at += DIGEST_SEGMENT) {
    const le = Buffer.alloc(4);
    le.writeUInt32LE(plainCrc32(data.subarray(at, at + DIGEST_SEGMENT)));
    outer.update(le);
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

  it('is the hash of the segment CRCs, whatever the chunking', () => {
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

  it('the CRC is the standard one (check value of "123456789")', () => {
    expect(plainCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
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
