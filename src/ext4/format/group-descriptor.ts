/**
 * Block group descriptors (`struct ext4_group_desc`): 32 bytes, or
 * s_desc_size (64) with the 64bit feature, where the *_hi halves follow.
 * The writer writes 32-byte descriptors without uninit_bg / metadata_csum,
 * so the exclude bitmap, the bitmap checksums and itable_unused stay zero.
 *
 * Where the descriptor table is: right after the superblock's block
 * (block first_data_block + 1), contiguous, except with meta_bg, where the
 * groups from s_first_meta_bg on are split into "meta groups" of one
 * descriptor block each, and that block sits at the start of the meta
 * group's first group (after its superblock backup, if it has one).
 */
import { LcowError } from '../../errors.js';
import { GROUP_DESC_SIZE } from './constants.js';
import { COMPAT, INCOMPAT, RO_COMPAT, hasIncompat, hasRoCompat } from './features.js';
import type { Ext4Superblock } from './superblock.js';

export interface GroupDescriptor {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  usedDirsCount: number;
  /** bg_flags (INODE_UNINIT, BLOCK_UNINIT, ITABLE_ZEROED); the writer sets none. */
  flags: number;
}

/** A 32-byte descriptor into `out` at `offset` (assumed zero). */
export function encodeGroupDescriptor(gd: GroupDescriptor, out: Buffer, offset: number): void {
  out.writeUInt32LE(gd.blockBitmap, offset + 0x0);
  out.writeUInt32LE(gd.inodeBitmap, offset + 0x4);
  out.writeUInt32LE(gd.inodeTable, offset + 0x8);
  out.writeUInt16LE(gd.freeBlocksCount, offset + 0xc);
  out.writeUInt16LE(gd.freeInodesCount, offset + 0xe);
  out.writeUInt16LE(gd.usedDirsCount, offset + 0x10);
  out.writeUInt16LE(gd.flags, offset + 0x12);
}

/** All descriptors, back to back, padded to whole blocks of `blockSize`. */
export function encodeGroupDescriptorTable(gds: GroupDescriptor[], blocks: number, blockSize: number): Buffer {
  const out = Buffer.alloc(blocks * blockSize);
  gds.forEach((gd, i) => encodeGroupDescriptor(gd, out, i * GROUP_DESC_SIZE));
  return out;
}

export function decodeGroupDescriptor(b: Buffer, at: number, descSize: number): GroupDescriptor {
  const wide = descSize >= 64;
  const hi32 = (o: number): number => (wide ? b.readUInt32LE(at + o) * 2 ** 32 : 0);
  const hi16 = (o: number): number => (wide ? b.readUInt16LE(at + o) * 0x10000 : 0);
  return {
    blockBitmap: b.readUInt32LE(at + 0x0) + hi32(0x20),
    inodeBitmap: b.readUInt32LE(at + 0x4) + hi32(0x24),
    inodeTable: b.readUInt32LE(at + 0x8) + hi32(0x28),
    freeBlocksCount: b.readUInt16LE(at + 0xc) + hi16(0x2c),
    freeInodesCount: b.readUInt16LE(at + 0xe) + hi16(0x2e),
    usedDirsCount: b.readUInt16LE(at + 0x10) + hi16(0x30),
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
