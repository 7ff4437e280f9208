import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ceilDiv } from '../../../src/ext4/format/constants.js';

describe('ceilDiv', () => {
  it('is ⌈a / b⌉ for every non-negative integer a up to 2^53 and positive b (property)', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.integer({ min: 1, max: 2 ** 32 }), (a, b) => {
        const q = ceilDiv(a, b);
        expect(Number.isInteger(q)).toBe(true);
        // q·b ≥ a > (q-1)·b, in BigInt so the check itself cannot round
        expect(BigInt(q) * BigInt(b) >= BigInt(a)).toBe(true);
        expect(a === 0 ? q === 0 : BigInt(q - 1) * BigInt(b) < BigInt(a)).toBe(true);
      }),
      { numRuns: 5000 },
    );
    expect([ceilDiv(0, 4096), ceilDiv(1, 4096), ceilDiv(4096, 4096), ceilDiv(4097, 4096), ceilDiv(32768 * 4 + 1, 32768)]).toEqual([0, 1, 1, 2, 5]);
  });
});
