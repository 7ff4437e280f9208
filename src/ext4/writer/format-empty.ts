/**
 * A writable, empty ext4 of a given size for read-write sandboxes — what
 * `mkfs.ext4 -O ^has_journal,sparse_super2,^resize_inode` would make, built
 * without running mkfs. It is returned as its non-zero runs: only the
 * metadata (superblock, descriptors, bitmaps, the first inode-table block,
 * root and lost+found) is described, so a 20 GB image costs about a
 * megabyte; the rest of the disk, including the zeroed inode tables, is
 * holes. Unlike converted layers it has no READONLY feature, has dir_index,
 * and mke2fs's inode density (one inode per 16 KiB).
 */
import { sha256 } from '../../digest/index.js';
import { LcowError } from '../../errors.js';
import { GroupBitmaps } from '../format/bitmaps.js';
import {
  BLOCKS_PER_GROUP,
  BLOCK_SIZE,
  FIRST_INO,
  GROUP_DESC_SIZE,
  INODES_PER_BLOCK,
  INODE_SIZE,
  LOST_FOUND_INO,
  MAX_INODES_PER_GROUP,
  ROOT_INO,
  SUPERBLOCK_OFFSET,
  ceilDiv,
} from '../format/constants.js';
import { encodeDirectory } from '../format/directory.js';
import { buildExtentTree } from '../format/extents.js';
import { COMPAT, INCOMPAT, RO_COMPAT } from '../format/features.js';
import { encodeGroupDescriptorTable, type GroupDescriptor } from '../format/group-descriptor.js';
import { INODE_FLAGS, MODE_TYPE, encodeInode } from '../format/inode.js';
import { encodeSuperblock } from '../format/superblock.js';
import { uuidFromHash } from '../format/uuid.js';

const BYTES_PER_INODE = 16384;
const LOST_FOUND_BLOCKS = 4; // as mke2fs: room for e2fsck to reconnect files without allocating
const MIN_BLOCKS = 64;
const EPOCH = { sec: 0, nsec: 0 };

/**
 * `size` bytes, zero everywhere except the runs (ascending, disjoint). The
 * shape of vhd's SparseImage, so a VHDX can be written from it as it is.
 */
export interface EmptyExt4Image {
  size: number;
  runs: Array<{ offset: number; data: Buffer }>;
}

export function formatEmptyExt4(sizeBytes: number, options: { uuidSeed?: string } = {}): EmptyExt4Image {
  const blocks = Math.floor(sizeBytes / BLOCK_SIZE);
  if (!Number.isSafeInteger(sizeBytes) || blocks < MIN_BLOCKS || blocks > 2 ** 32 - 1) {
    throw new LcowError('EINVAL', `empty ext4 size must be between ${MIN_BLOCKS * BLOCK_SIZE} bytes and 16 TiB`, { sizeBytes });
  }
  const groups = ceilDiv(blocks, BLOCKS_PER_GROUP);
  const wantInodes = Math.max(FIRST_INO + 5, Math.floor((blocks * BLOCK_SIZE) / BYTES_PER_INODE));
  const ipg = Math.min(MAX_INODES_PER_GROUP, ceilDiv(ceilDiv(wantInodes, groups), INODES_PER_BLOCK) * INODES_PER_BLOCK);
  const itablePerGroup = ipg / INODES_PER_BLOCK;
  const gdtBlocks = ceilDiv(groups * GROUP_DESC_SIZE, BLOCK_SIZE);

  // [sb][gdt][block bitmaps][inode bitmaps][inode tables][root dir][lost+found]
  const blockBitmapStart = 1 + gdtBlocks;
  const inodeBitmapStart = blockBitmapStart + groups;
  const inodeTableStart = inodeBitmapStart + groups;
  const rootBlock = inodeTableStart + groups * itablePerGroup;
  const lostFoundBlock = rootBlock + 1;
  const metaEnd = lostFoundBlock + LOST_FOUND_BLOCKS;
  if (metaEnd > blocks) throw new LcowError('EINVAL', 'size too small for the file-system metadata', { sizeBytes });

  const blockMaps = new GroupBitmaps(groups);
  blockMaps.setRange(0, metaEnd);
  blockMaps.padGroup(groups - 1, blocks - (groups - 1) * BLOCKS_PER_GROUP);
  const inodeMaps = new GroupBitmaps(groups);
  inodeMaps.setRange(0, LOST_FOUND_INO);
  for (let g = 0; g < groups; g++) inodeMaps.padGroup(g, ipg);

  const gds: GroupDescriptor[] = [];
  let freeBlocks = 0;
  for (let g = 0; g < groups; g++) {
    const valid = Math.min(BLOCKS_PER_GROUP, blocks - g * BLOCKS_PER_GROUP);
    const free = valid - blockMaps.countUsed(g, valid);
    freeBlocks += free;
    gds.push({
      blockBitmap: blockBitmapStart + g,
      inodeBitmap: inodeBitmapStart + g,
      inodeTable: inodeTableStart + g * itablePerGroup,
      freeBlocksCount: free,
      freeInodesCount: ipg - inodeMaps.countUsed(g, ipg),
      usedDirsCount: g === 0 ? 2 : 0,
      flags: 0,
    });
  }

  const uuid = uuidFromHash(sha256(`lcow-uvm empty ext4\0${options.uuidSeed ?? ''}\0${blocks}`));
  const head = Buffer.alloc((1 + gdtBlocks) * BLOCK_SIZE);
  encodeSuperblock({
    inodesCount: groups * ipg,
    blocksCount: blocks,
    reservedBlocksCount: 0,
    freeBlocksCount: freeBlocks,
    freeInodesCount: groups * ipg - LOST_FOUND_INO,
    inodesPerGroup: ipg,
    featureCompat: COMPAT.ext_attr | COMPAT.dir_index | COMPAT.sparse_super2,
    featureIncompat: INCOMPAT.filetype | INCOMPAT.extent | INCOMPAT.flex_bg,
    featureRoCompat: RO_COMPAT.sparse_super | RO_COMPAT.large_file | RO_COMPAT.huge_file | RO_COMPAT.dir_nlink | RO_COMPAT.extra_isize,
    uuid,
    label: '',
    logGroupsPerFlex: 4,
    hashSeed: uuidFromHash(sha256(uuid, 'hash seed')),
    timestamp: 0,
  }).copy(head, SUPERBLOCK_OFFSET);
  encodeGroupDescriptorTable(gds, gdtBlocks, BLOCK_SIZE).copy(head, BLOCK_SIZE);

  // Inodes 1..11 share the first inode-table block; only root and lost+found are non-zero.
  const itable = Buffer.alloc(BLOCK_SIZE);
  const dirInode = (ino: number, perm: number, links: number, first: number, count: number) => {
    let next = first;
    const tree = buildExtentTree([{ logical: 0, physical: first, length: count }], () => next++);
    encodeInode(
      {
        mode: MODE_TYPE.dir | perm,
        uid: 0,
        gid: 0,
        size: count * BLOCK_SIZE,
        linksCount: links,
        blocks: count * 8,
        flags: INODE_FLAGS.extents,
        iBlock: tree.root,
        fileAcl: 0,
        atime: EPOCH,
        mtime: EPOCH,
        ctime: EPOCH,
        crtime: EPOCH,
      },
      itable,
      (ino - 1) * INODE_SIZE,
    );
  };
  dirInode(ROOT_INO, 0o755, 3, rootBlock, 1);
  dirInode(LOST_FOUND_INO, 0o700, 2, lostFoundBlock, LOST_FOUND_BLOCKS);
  const rootDir = encodeDirectory([
    { name: Buffer.from('.'), ino: ROOT_INO, kind: 'dir' },
    { name: Buffer.from('..'), ino: ROOT_INO, kind: 'dir' },
    { name: Buffer.from('lost+found'), ino: LOST_FOUND_INO, kind: 'dir' },
  ]);
  const lostFound = Buffer.alloc(LOST_FOUND_BLOCKS * BLOCK_SIZE);
  encodeDirectory([
    { name: Buffer.from('.'), ino: LOST_FOUND_INO, kind: 'dir' },
    { name: Buffer.from('..'), ino: ROOT_INO, kind: 'dir' },
  ]).copy(lostFound);
  // The other blocks each hold one empty entry spanning the block.
  for (let b = 1; b < LOST_FOUND_BLOCKS; b++) lostFound.writeUInt16LE(BLOCK_SIZE, b * BLOCK_SIZE + 4);

  const pieces: Array<{ offset: number; data: Buffer }> = [{ offset: 0, data: head }];
  for (let g = 0; g < groups; g++) pieces.push({ offset: (blockBitmapStart + g) * BLOCK_SIZE, data: blockMaps.groupBlock(g) });
  pieces.push({ offset: inodeBitmapStart * BLOCK_SIZE, data: inodeMaps.data });
  pieces.push({ offset: inodeTableStart * BLOCK_SIZE, data: itable });
  pieces.push({ offset: rootBlock * BLOCK_SIZE, data: Buffer.concat([rootDir, lostFound]) });
  return { size: blocks * BLOCK_SIZE, runs: mergeRuns(pieces.filter((p) => !isZero(p.data))) };
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Join pieces that touch (ascending offsets) into single runs. */
function mergeRuns(pieces: Array<{ offset: number; data: Buffer }>): EmptyExt4Image['runs'] {
  const out: EmptyExt4Image['runs'] = [];
  let group: Array<{ offset: number; data: Buffer }> = [];
  const close = () => {
    const [head] = group;
    if (head) out.push({ offset: head.offset, data: group.length === 1 ? head.data : Buffer.concat(group.map((p) => p.data)) });
    group = [];
  };
  for (const p of pieces) {
    const last = group[group.length - 1];
    if (last && last.offset + last.data.length !== p.offset) close();
    group.push(p);
  }
  close();
  return out;
}
