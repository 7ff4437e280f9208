/**
 * The ext4 superblock (1024 bytes at byte 1024 of the image). Only the
 * fields these images use are modelled; everything else is written as zero,
 * which is what mke2fs writes for an unused feature.
 */
import { BLOCKS_PER_GROUP, EXT4_MAGIC, EXTRA_ISIZE, FIRST_INO, GROUP_DESC_SIZE, INODE_SIZE, LOG_BLOCK_SIZE, SUPERBLOCK_SIZE } from './constants.js';

export interface Superblock {
  inodesCount: number;
  blocksCount: number;
  reservedBlocksCount: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  inodesPerGroup: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  uuid: Buffer; // 16 bytes
  volumeName: string;
  /** log2 of groups per flex group. */
  logGroupsPerFlex: number;
  /** Seed for htree hashes (dir_index); 16 bytes. */
  hashSeed: Buffer;
  /** Seconds since the epoch stamped as mkfs/write time (0 keeps output deterministic). */
  timestamp: number;
}

const S_STATE_CLEAN = 1;
const S_ERRORS_CONTINUE = 1;
const REV_DYNAMIC = 1;
const HASH_HALF_MD4 = 1;
const FLAG_UNSIGNED_HASH = 0x2;

export function encodeSuperblock(sb: Superblock): Buffer {
  const b = Buffer.alloc(SUPERBLOCK_SIZE);
  b.writeUInt32LE(sb.inodesCount, 0x0);
  b.writeUInt32LE(sb.blocksCount, 0x4);
  b.writeUInt32LE(sb.reservedBlocksCount, 0x8);
  b.writeUInt32LE(sb.freeBlocksCount, 0xc);
  b.writeUInt32LE(sb.freeInodesCount, 0x10);
  b.writeUInt32LE(0, 0x14); // s_first_data_block: 0 with 4 KiB blocks
  b.writeUInt32LE(LOG_BLOCK_SIZE, 0x18);
  b.writeUInt32LE(LOG_BLOCK_SIZE, 0x1c); // cluster size == block size
  b.writeUInt32LE(BLOCKS_PER_GROUP, 0x20);
  b.writeUInt32LE(BLOCKS_PER_GROUP, 0x24);
  b.writeUInt32LE(sb.inodesPerGroup, 0x28);
  b.writeUInt32LE(sb.timestamp, 0x2c); // s_mtime
  b.writeUInt32LE(sb.timestamp, 0x30); // s_wtime
  b.writeUInt16LE(0xffff, 0x36); // s_max_mnt_count = -1: no forced checks
  b.writeUInt16LE(EXT4_MAGIC, 0x38);
  b.writeUInt16LE(S_STATE_CLEAN, 0x3a);
  b.writeUInt16LE(S_ERRORS_CONTINUE, 0x3c);
  b.writeUInt32LE(sb.timestamp, 0x40); // s_lastcheck
  b.writeUInt32LE(REV_DYNAMIC, 0x4c);
  b.writeUInt32LE(FIRST_INO, 0x54);
  b.writeUInt16LE(INODE_SIZE, 0x58);
  b.writeUInt32LE(sb.featureCompat, 0x5c);
  b.writeUInt32LE(sb.featureIncompat, 0x60);
  b.writeUInt32LE(sb.featureRoCompat, 0x64);
  sb.uuid.copy(b, 0x68, 0, 16);
  b.write(sb.volumeName.slice(0, 16), 0x78, 16, 'utf8');
  sb.hashSeed.copy(b, 0xec, 0, 16);
  b.writeUInt8(HASH_HALF_MD4, 0xfc);
  b.writeUInt16LE(GROUP_DESC_SIZE, 0xfe);
  b.writeUInt32LE(sb.timestamp, 0x108); // s_mkfs_time
  b.writeUInt16LE(EXTRA_ISIZE, 0x15c); // s_min_extra_isize
  b.writeUInt16LE(EXTRA_ISIZE, 0x15e); // s_want_extra_isize
  b.writeUInt32LE(FLAG_UNSIGNED_HASH, 0x160);
  b.writeUInt8(sb.logGroupsPerFlex, 0x174);
  // s_backup_bgs (0x24c, 0x250) stay 0: with sparse_super2 that means no
  // backup superblocks, so groups past 0 hold only data.
  return b;
}

export function decodeSuperblock(b: Buffer): Superblock & { magic: number; blocksPerGroup: number; inodeSize: number; logBlockSize: number } {
  return {
    inodesCount: b.readUInt32LE(0x0),
    blocksCount: b.readUInt32LE(0x4),
    reservedBlocksCount: b.readUInt32LE(0x8),
    freeBlocksCount: b.readUInt32LE(0xc),
    freeInodesCount: b.readUInt32LE(0x10),
    logBlockSize: b.readUInt32LE(0x18),
    blocksPerGroup: b.readUInt32LE(0x20),
    inodesPerGroup: b.readUInt32LE(0x28),
    timestamp: b.readUInt32LE(0x108),
    magic: b.readUInt16LE(0x38),
    inodeSize: b.readUInt16LE(0x58),
    featureCompat: b.readUInt32LE(0x5c),
    featureIncompat: b.readUInt32LE(0x60),
    featureRoCompat: b.readUInt32LE(0x64),
    uuid: Buffer.from(b.subarray(0x68, 0x78)),
    volumeName: b.subarray(0x78, 0x88).toString('utf8').replace(/\0+$/, ''),
    hashSeed: Buffer.from(b.subarray(0xec, 0xfc)),
    logGroupsPerFlex: b.readUInt8(0x174),
  };
}

/** Format 16 bytes as a canonical UUID string. */
export function formatUuid(u: Buffer): string {
  const h = u.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Turn 16 hash bytes into an RFC 4122 version-5-style UUID (name-based, SHA). */
export function uuidFromHash(hash: Buffer): Buffer {
  const u = Buffer.from(hash.subarray(0, 16));
  u[6] = (u[6] & 0x0f) | 0x50;
  u[8] = (u[8] & 0x3f) | 0x80;
  return u;
}
