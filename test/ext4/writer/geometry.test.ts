import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCKS_PER_GROUP, BLOCK_SIZE, GROUP_DESC_SIZE, INODES_PER_BLOCK, MAX_INODES_PER_GROUP } from '../../../src/ext4/format/constants.js';
import { computeGeometry, reservedGdtBlocks } from '../../../src/ext4/writer/geometry.js';
import { RUNS, expectCode } from '../format/helpers.js';

describe('geometry (computeGeometry / reservedGdtBlocks)', () => {
  it('reserves descriptor blocks for the largest image', () => {
    expect(reservedGdtBlocks(1)).toBe(1);
    expect(reservedGdtBlocks(BLOCKS_PER_GROUP * 128)).toBe(1);
    expect(reservedGdtBlocks(BLOCKS_PER_GROUP * 128 + 1)).toBe(2);
    expect(reservedGdtBlocks((128 * 1024 ** 3) / BLOCK_SIZE)).toBe(8); // 128 GiB: 1024 groups
  });

  it('a tiny image: one group, one inode-table block, bitmaps right after', () => {
    expect(computeGeometry(100, 11)).toEqual({
      groups: 1,
      inodesPerGroup: INODES_PER_BLOCK,
      blocksCount: 103,
      inodeTableStart: 100,
      inodeTableBlocksPerGroup: 1,
      blockBitmapStart: 101,
      inodeBitmapStart: 102,
      gdtBlocks: 1,
    });
    // The only group still gets at least 64 blocks, even when its metadata ends earlier.
    expect(computeGeometry(1, 11).blocksCount).toBe(64);
  });

  it('keeps its layout promises for any data size and inode count (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 24 }), fc.integer({ min: 11, max: 2 ** 22 }), (metaStart, inodes) => {
        const g = computeGeometry(metaStart, inodes);
        expect(g.groups).toBeGreaterThanOrEqual(1);
        expect(g.inodesPerGroup % INODES_PER_BLOCK).toBe(0);
        expect(g.inodesPerGroup).toBeLessThanOrEqual(MAX_INODES_PER_GROUP);
        expect(g.groups * g.inodesPerGroup).toBeGreaterThanOrEqual(inodes);
        expect(g.inodeTableBlocksPerGroup).toBe(g.inodesPerGroup / INODES_PER_BLOCK);
        // [inode tables of all groups][block bitmaps][inode bitmaps], starting at metaStart.
        expect(g.inodeTableStart).toBe(metaStart);
        expect(g.blockBitmapStart).toBe(metaStart + g.groups * g.inodeTableBlocksPerGroup);
        expect(g.inodeBitmapStart).toBe(g.blockBitmapStart + g.groups);
        expect(g.blocksCount).toBeGreaterThanOrEqual(g.inodeBitmapStart + g.groups);
        // Every group exists: the last one starts inside the file system and holds some blocks.
        expect(g.blocksCount).toBeLessThanOrEqual(g.groups * BLOCKS_PER_GROUP);
        expect(g.blocksCount).toBeGreaterThanOrEqual((g.groups - 1) * BLOCKS_PER_GROUP + 64);
        expect(g.gdtBlocks).toBe(Math.ceil((g.groups * GROUP_DESC_SIZE) / BLOCK_SIZE));
      }),
      RUNS,
    );
  });

  it('inodes alone can force more groups', () => {
    const g = computeGeometry(10, 3 * MAX_INODES_PER_GROUP + 1);
    expect(g.groups).toBe(4);
    expect(g.blocksCount).toBe(3 * BLOCKS_PER_GROUP + 64);
  });

  it('fails with ETOOBIG past 32-bit block numbers', () => {
    const err = expectCode(() => computeGeometry(2 ** 32 - 10, 11), 'ETOOBIG');
    expect(err.context.blocksCount as number).toBeGreaterThan(2 ** 32 - 1);
  });
});
