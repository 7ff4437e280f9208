/**
 * Block group descriptors (`struct ext4_group_desc`): 32 bytes, or
 * s_desc_size (64) with the 64bit feature, where the *_hi halves follow.
 * The reader needs only where each group's inode table is.
 *
 * Where the descriptor table is: right after the superblock's block
 * (block first_data_block + 1), contiguous — except with meta_bg, where the
 * groups from s_first_meta_bg on are split into "meta groups" of one
 * descriptor block each, and that block sits at the start of the meta
 * group's first group (after its superblock backup, if it has one).
 */
import { LcowError } from '../../errors.js';
import { COMPAT, INCOMPAT, RO_COMPAT, hasIncompat, hasRoCompat, type Ext4Superblock } from './superblock.js';

export interface GroupDescriptor {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  flags: number;
}

export function decodeGroupDescriptor(b: Buffer, at: number, descSize: number): GroupDescriptor {
  const wide = descSize >= 64;
  const hi = (o: number): number => (wide ? b.readUInt32LE(at + o) * 2 ** 32 : 0);
  return {
    blockBitmap: b.readUInt32LE(at + 0x0) + hi(0x20),
    inodeBitmap: b.readUInt32LE(at + 0x4) + hi(0x24),
    inodeTable: b.readUInt32LE(at + 0x8) + hi(0x28),
    flags: b.readUInt16LE(at + 0x12),
  };
}

/** Whether group `g` holds a superblock backup (and, without meta_bg, a descriptor-table copy). */
export function groupHasSuper(sb: Ext4Superblock, g: number): boolean {
  if (g === 0) return true;
  if (sb.featureCompat & COMPAT.sparse_super2) return g === sb.backupBgs[0] || g === sb.backupBgs[1];
  if (!hasRoCompat(sb, RO_COMPAT.sparse_super)) return true;
  if (g === 1) return true;
  for (const p of [3, 5, 7]) {
    let n = p;
    while (n < g) n *= p;
    if (n === g) return true;
  }
  return false;
}

/** The block number of the descriptor block holding group `g`'s descriptor, and the byte offset in it. */
export function descriptorLocation(sb: Ext4Superblock, g: number): { block: number; offset: number } {
  const perBlock = sb.blockSize / sb.descSize;
  const index = Math.floor(g / perBlock);
  const offset = (g % perBlock) * sb.descSize;
  if (hasIncompat(sb, INCOMPAT.meta_bg) && index >= sb.firstMetaBg) {
    const first = index * perBlock;
    const block = sb.firstDataBlock + first * sb.blocksPerGroup + (groupHasSuper(sb, first) ? 1 : 0);
    return { block, offset };
  }
  return { block: sb.firstDataBlock + 1 + index, offset };
}

/** Check that a descriptor's inode table lies inside the volume. */
export function checkDescriptor(sb: Ext4Superblock, g: number, d: GroupDescriptor): void {
  const tableBlocks = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
  if (d.inodeTable < 1 || d.inodeTable + tableBlocks > sb.blocksCount) {
    throw new LcowError('EBADIMAGE', `group ${g}: inode table at block ${d.inodeTable} is outside the volume`, { group: g });
  }
}
