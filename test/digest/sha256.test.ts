import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256 } from '../../src/digest/index.js';

/** Node's OpenSSL is the judge. */
const judge = (...parts: Array<Buffer | string>): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('sha256', () => {
  it("matches OpenSSL's on the padding edges (55, 56, 63, 64 bytes …) and beyond", () => {
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, 4096 + 13]) {
      const b = randomBytes(n);
      expect(sha256(b).toString('hex'), `${n} bytes`).toBe(judge(b));
    }
  });

  it('is the same whatever the pieces the input comes in', () => {
    const b = randomBytes(1031);
    for (const cut of [[1], [63, 1], [64], [65, 200], [7, 500, 3]]) {
      const s = new Sha256();
      let at = 0;
      for (let i = 0; at < b.length; i++) {
        const n = cut[i % cut.length]!;
        s.update(b.subarray(at, at + n));
        at += n;
      }
      expect(s.digest().toString('hex'), cut.join(',')).toBe(judge(b));
    }
  });

  it('hashes strings as UTF-8 and parts as their concatenation', () => {
    expect(sha256('hash seed').toString('hex')).toBe(judge('hash seed'));
    expect(sha256('grüße ✓').toString('hex')).toBe(judge('grüße ✓'));
    const uuid = randomBytes(16);
    expect(sha256(uuid, 'hash seed').toString('hex')).toBe(judge(uuid, 'hash seed'));
    // Known answer (FIPS 180-4 examples): "abc".
    expect(sha256('abc').toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('is spent by digest()', () => {
    const s = new Sha256().update('x');
    s.digest();
    expect(() => s.digest()).toThrow(/twice/);
    expect(() => s.update('y')).toThrow(/after digest/);
  });
});
