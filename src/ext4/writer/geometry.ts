/**
 * Group geometry of a finished image: how many groups, inodes per group,
 * and where the inode tables and bitmaps go. With flex_bg the per-group
 * metadata may live anywhere, so the writer puts all of it in one run after
 * the data: [inode tables of all groups][block bitmaps][inode bitmaps].
 */
import { LcowError } from '../../errors.js';
import { BLOCKS_PER_GROUP, BLOCK_SIZE, GROUP_DESC_SIZE, INODES_PER_BLOCK, MAX_INODES_PER_GROUP, ceilDiv } from '../format/constants.js';

export interface Geometry {
  groups: number;
  inodesPerGroup: number;
  blocksCount: number;
  inodeTableStart: number;
  inodeTableBlocksPerGroup: number;
  blockBitmapStart: number;
  inodeBitmapStart: number;
  /** Blocks the group descriptor table really occupies (after block 0). */
  gdtBlocks: number;
}

/** Blocks reserved after the superblock for descriptors of an image up to `maxBlocks`. */
export function reservedGdtBlocks(maxBlocks: number): number {
  return ceilDiv(ceilDiv(maxBlocks, BLOCKS_PER_GROUP) * GROUP_DESC_SIZE, BLOCK_SIZE);
}

/**
 * `metaStart`: first block after data and other metadata; `inodes`: the
 * highest inode number in use. Grows the group count until the inode tables
 * and bitmaps fit too.
 */
export function computeGeometry(metaStart: number, inodes: number): Geometry {
  const minGroupsForInodes = ceilDiv(inodes, MAX_INODES_PER_GROUP);
  let groups = Math.max(1, minGroupsForInodes, ceilDiv(metaStart, BLOCKS_PER_GROUP));
  for (;;) {
    const ipg = Math.max(INODES_PER_BLOCK, ceilDiv(ceilDiv(inodes, groups), INODES_PER_BLOCK) * INODES_PER_BLOCK);
    const itablePerGroup = ipg / INODES_PER_BLOCK;
    const inodeTableStart = metaStart;
    const blockBitmapStart = inodeTableStart + groups * itablePerGroup;
    const inodeBitmapStart = blockBitmapStart + groups;
    const end = inodeBitmapStart + groups;
    const needGroups = Math.max(minGroupsForInodes, ceilDiv(end, BLOCKS_PER_GROUP));
    if (needGroups > groups) {
      groups = needGroups;
      continue;
    }
    // When inodes force more groups than blocks do, the last group still needs a few blocks of its own.
    const blocksCount = Math.max(end, (groups - 1) * BLOCKS_PER_GROUP + 64);
    if (ipg > MAX_INODES_PER_GROUP || blocksCount > 2 ** 32 - 1) {
      throw new LcowError('ETOOBIG', 'file system too large for 32-bit block numbers', { blocksCount, inodes });
    }
    return {
      groups,
      inodesPerGroup: ipg,
      blocksCount,
      inodeTableStart,
      inodeTableBlocksPerGroup: itablePerGroup,
      blockBitmapStart,
      inodeBitmapStart,
      gdtBlocks: ceilDiv(groups * GROUP_DESC_SIZE, BLOCK_SIZE),
    };
  }
}
