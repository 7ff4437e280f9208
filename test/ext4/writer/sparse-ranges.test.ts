import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE } from '../../../src/ext4/format/constants.js';
import { PackedCursor, regionsToBlockRanges } from '../../../src/ext4/writer/sparse-ranges.js';
import { RUNS, expectCode } from '../format/helpers.js';

describe('sparse ranges (regionsToBlockRanges / PackedCursor)', () => {
  const K = BLOCK_SIZE;

  it('maps regions to block ranges packed back to back', () => {
    expect(regionsToBlockRanges([], 10 * K, 'f')).toEqual([]);
    expect(
      regionsToBlockRanges(
        [
          { offset: 0, length: 1 },
          { offset: 10, length: 5 }, // same block as the first: merged
          { offset: K, length: 1 }, // the next block: touching, merged
          { offset: 5 * K + 100, length: 2 * K }, // blocks 5..7
          { offset: 9 * K, length: 0 }, // empty: no blocks
          { offset: 20 * K, length: K }, // exactly block 20
        ],
        21 * K,
        'f',
      ),
    ).toEqual([
      { logical: 0, length: 2, packed: 0 },
      { logical: 5, length: 3, packed: 2 },
      { logical: 20, length: 1, packed: 5 },
    ]);
  });

  it.each([
    {
      name: 'overlapping',
      regions: [
        { offset: 0, length: 10 },
        { offset: 5, length: 1 },
      ],
    },
    {
      name: 'descending',
      regions: [
        { offset: 100, length: 1 },
        { offset: 0, length: 1 },
      ],
    },
    { name: 'past the end', regions: [{ offset: 90, length: 11 }] },
    { name: 'negative length', regions: [{ offset: 10, length: -1 }] },
    { name: 'fractional', regions: [{ offset: 0.5, length: 1 }] },
  ])('rejects $name regions with EBADTAR', ({ regions }) => {
    const err = expectCode(() => regionsToBlockRanges(regions, 100, 'dir/file'), 'EBADTAR');
    expect(err.context.entry).toBe('dir/file');
  });

  it('PackedCursor finds packed positions and refuses offsets in holes', () => {
    const ranges = regionsToBlockRanges(
      [
        { offset: 0, length: 10 },
        { offset: 3 * K + 7, length: 2 * K },
      ],
      10 * K,
      'f',
    );
    const c = new PackedCursor(ranges);
    expect(c.positionOf(0)).toBe(0);
    expect(c.positionOf(9)).toBe(9);
    expect(c.positionOf(3 * K + 7)).toBe(K + 7);
    expect(c.positionOf(5 * K + 6)).toBe(3 * K + 6);
    expectCode(() => c.positionOf(7 * K), 'EBADTAR');
    expectCode(() => new PackedCursor(ranges).positionOf(2 * K), 'EBADTAR');
  });

  it('agrees with a block-by-block model (property)', () => {
    // Regions from (gap, length) pairs, in bytes; small enough to enumerate every block.
    const arbRegions = fc.array(fc.tuple(fc.integer({ min: 0, max: 3 * K }), fc.integer({ min: 0, max: 3 * K })), { maxLength: 30 });
    fc.assert(
      fc.property(arbRegions, fc.integer({ min: 0, max: K }), (pairs, tail) => {
        const regions: Array<{ offset: number; length: number }> = [];
        let pos = 0;
        for (const [gap, length] of pairs) {
          regions.push({ offset: pos + gap, length });
          pos += gap + length;
        }
        const size = pos + tail;
        const ranges = regionsToBlockRanges(regions, size, 'f');
        // Model: the set of blocks any non-empty region touches, in order.
        const blocks = new Set<number>();
        for (const r of regions) if (r.length > 0) for (let b = Math.floor(r.offset / K); b < Math.ceil((r.offset + r.length) / K); b++) blocks.add(b);
        const expected = [...blocks].sort((a, b) => a - b);
        const got = ranges.flatMap((r) => Array.from({ length: r.length }, (_, i) => r.logical + i));
        expect(got).toEqual(expected);
        let packed = 0;
        for (let i = 0; i < ranges.length; i++) {
          expect(ranges[i]!.length).toBeGreaterThan(0);
          expect(ranges[i]!.packed).toBe(packed);
          packed += ranges[i]!.length;
          // Touching ranges are merged, so a hole block separates neighbours.
          if (i > 0) expect(ranges[i]!.logical).toBeGreaterThan(ranges[i - 1]!.logical + ranges[i - 1]!.length);
        }
        // Positions: the index of the block within the packed data, plus the offset in the block.
        const cursor = new PackedCursor(ranges);
        for (const r of regions) {
          if (r.length === 0) continue;
          for (const off of [r.offset, r.offset + (r.length >> 1), r.offset + r.length - 1]) {
            expect(cursor.positionOf(off)).toBe(expected.indexOf(Math.floor(off / K)) * K + (off % K));
          }
        }
      }),
      RUNS,
    );
  });
});
