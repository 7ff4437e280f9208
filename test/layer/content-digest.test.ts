import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ContentDigest, DIGEST_SEGMENT } from '../../src/layer/content-digest.js';

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** The definition, written plainly: SHA-256 over the SHA-256 of each segment. */
function expected(data: Buffer): Buffer {
  const outer = createHash('sha256');
  for (let at = 0; at < data.length; at += DIGEST_SEGMENT) outer.update(sha256(data.subarray(at, at + DIGEST_SEGMENT)));
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

  it('is the hash of the segment hashes, whatever the chunking', () => {
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

  it('of nothing, is the hash of nothing', async () => {
    expect(digestOf([])).toEqual(sha256(Buffer.alloc(0)));
  });
});
