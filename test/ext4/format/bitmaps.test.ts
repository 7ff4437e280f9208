import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupBitmaps } from '../../../src/ext4/format/bitmaps.js';
import { BLOCK_SIZE } from '../../../src/ext4/format/constants.js';

describe('bitmaps (GroupBitmaps)', () => {
  const BITS = BLOCK_SIZE * 8;

  it('sets ranges, pads the tail of a group and counts only valid bits', () => {
    const m = new GroupBitmaps(2);
    expect(m.data.length).toBe(2 * BLOCK_SIZE);
    m.setRange(3, 10);
    m.setRange(BITS + 5, 1);
    m.padGroup(1, 100);
    expect(m.countUsed(0, BITS)).toBe(10);
    expect(m.countUsed(1, 100)).toBe(1);
    expect(m.countUsed(1, BITS)).toBe(1 + BITS - 100);
    expect(m.isSet(2)).toBe(false);
    expect(m.isSet(3)).toBe(true);
    expect(m.isSet(12)).toBe(true);
    expect(m.isSet(13)).toBe(false);
    expect(m.isSet(BITS + 99)).toBe(false);
    expect(m.isSet(BITS + 100)).toBe(true);
    expect(m.isSet(2 * BITS - 1)).toBe(true);
    expect(m.groupBlock(0).readUInt16LE(0)).toBe(0b0001_1111_1111_1000);
    expect(m.groupBlock(1).length).toBe(BLOCK_SIZE);
    // groupBlock is a view: it sees later changes.
    const g0 = m.groupBlock(0);
    m.setBit(100);
    expect(g0[12]! & 0x10).toBe(0x10);
  });

  it('padding a full group sets nothing; padding from 0 sets the whole block', () => {
    const m = new GroupBitmaps(2);
    m.padGroup(0, BITS);
    expect(m.groupBlock(0).every((x) => x === 0)).toBe(true);
    m.padGroup(1, 0);
    expect(m.groupBlock(1).every((x) => x === 0xff)).toBe(true);
    expect(m.countUsed(1, 0)).toBe(0);
  });

  it('agrees with a bit-by-bit model (property)', () => {
    const groups = 2;
    const op = fc.record({ start: fc.integer({ min: 0, max: groups * BITS - 1 }), count: fc.integer({ min: 0, max: 5000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 8 }), fc.integer({ min: 0, max: BITS }), (ops, valid) => {
        const m = new GroupBitmaps(groups);
        const model = Buffer.alloc(groups * BLOCK_SIZE);
        for (const { start, count } of ops) {
          const c = Math.min(count, groups * BITS - start);
          m.setRange(start, c);
          for (let i = start; i < start + c; i++) model[i >> 3]! |= 1 << (i & 7);
        }
        expect(m.data.equals(model)).toBe(true);
        for (let g = 0; g < groups; g++) {
          let n = 0;
          for (let i = 0; i < valid; i++) if (model[(g * BITS + i) >> 3]! & (1 << (i & 7))) n++;
          expect(m.countUsed(g, valid)).toBe(n);
        }
      }),
      { numRuns: 100 },
    );
  });
});
