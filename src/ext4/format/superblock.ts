/**
 * The superblock (`struct ext4_super_block`, 1024 bytes at byte 1024 of the
 * volume). The encoder writes the fields this library's images use and
 * leaves the rest zero, which is what mke2fs writes for an unused feature;
 * the decoder reads what the reader and `lcow inspect` need from any
 * ext2/3/4 volume, and refuses what it cannot read.
 */
import { LcowError } from '../../errors.js';
import { BLOCKS_PER_GROUP, EXT4_MAGIC, EXTRA_ISIZE, FIRST_INO, GROUP_DESC_SIZE, INODE_SIZE, LOG_BLOCK_SIZE, SUPERBLOCK_SIZE } from './constants.js';
import { INCOMPAT, RO_COMPAT, featureNames } from './features.js';
import { formatUuid } from './uuid.js';

/** What the writer chooses; the encoder derives the rest from constants.ts. */
export interface SuperblockFields {
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
  label: string;
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

export function encodeSuperblock(sb: SuperblockFields): Buffer {
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
  b.write(sb.label.slice(0, 16), 0x78, 16, 'utf8');
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

/** Incompatible features whose on-disk meaning the reader does not implement. */
const UNSUPPORTED_INCOMPAT = INCOMPAT.compression | INCOMPAT.journal_dev | INCOMPAT.dirdata | INCOMPAT.encrypt;

export interface Ext4Superblock {
  inodesCount: number;
  blocksCount: number;
  reservedBlocksCount: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  firstDataBlock: number;
  blockSize: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodeSize: number;
  /** Number of block groups. */
  groupCount: number;
  /** Group-descriptor size: 32, or s_desc_size with the 64bit feature. */
  descSize: number;
  firstMetaBg: number;
  /** With sparse_super2: the (at most two) groups holding superblock backups. */
  backupBgs: [number, number];
  logGroupsPerFlex: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  /** Feature names set on the volume (compat, incompat and ro_compat together). */
  features: string[];
  uuid: string;
  label: string;
  lastMounted: string;
  /** The read_only ro_compat feature (tar2ext4 and the converter set it). */
  readOnly: boolean;
  /** 0 = legacy, 1 = half-MD4, 2 = TEA; +3 for the unsigned variants. */
  defaultHashVersion: number;
  hashSeed: Buffer;
  /** s_state bit 0: cleanly unmounted. */
  clean: boolean;
  /**
   * The journal holds transactions not yet written to their places (the
   * volume was not unmounted cleanly). The reader does not replay the
   * journal, so what it shows may be older than what the kernel would.
   */
  needsRecovery: boolean;
  mkfsTime: number;
  writeTime: number;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

/** Decode and sanity-check the superblock (`b` = the 1024 bytes) of a `volumeSize`-byte disk. Throws EBADIMAGE / EUNSUPPORTED. */
export function decodeSuperblock(b: Buffer, volumeSize: number): Ext4Superblock {
  const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `ext4 superblock: ${why}`, {});
  if (b.length < SUPERBLOCK_SIZE || b.readUInt16LE(0x38) !== EXT4_MAGIC) throw bad('no ext2/3/4 magic');
  const logBlock = b.readUInt32LE(0x18);
  if (logBlock > 6) throw bad(`block size 2^(10+${logBlock})`);
  const blockSize = 1024 << logBlock;
  const revLevel = b.readUInt32LE(0x4c);
  const featureCompat = revLevel >= 1 ? b.readUInt32LE(0x5c) : 0;
  const featureIncompat = revLevel >= 1 ? b.readUInt32LE(0x60) : 0;
  const featureRoCompat = revLevel >= 1 ? b.readUInt32LE(0x64) : 0;
  const is64 = (featureIncompat & INCOMPAT['64bit']) !== 0;
  const blocksCount = b.readUInt32LE(0x04) + (is64 ? b.readUInt32LE(0x150) * 2 ** 32 : 0);
  const inodeSize = revLevel >= 1 ? b.readUInt16LE(0x58) : 128;
  const blocksPerGroup = b.readUInt32LE(0x20);
  const inodesPerGroup = b.readUInt32LE(0x28);
  const firstDataBlock = b.readUInt32LE(0x14);
  const descSize = is64 ? b.readUInt16LE(0xfe) : 32;
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) throw bad(`inode size ${inodeSize}`);
  if (blocksPerGroup === 0 || blocksPerGroup > blockSize * 8) throw bad(`blocks per group ${blocksPerGroup}`);
  if (inodesPerGroup === 0 || inodesPerGroup > blockSize * 8) throw bad(`inodes per group ${inodesPerGroup}`);
  if (descSize < 32 || descSize > blockSize || (descSize & (descSize - 1)) !== 0) throw bad(`group descriptor size ${descSize}`);
  if (blocksCount <= firstDataBlock) throw bad(`block count ${blocksCount}`);
  if (firstDataBlock !== (blockSize === 1024 ? 1 : 0) && firstDataBlock !== 0) throw bad(`first data block ${firstDataBlock}`);
  // An image that claims many more blocks than the disk holds is truncated or corrupt; reads past the end fail later anyway.
  if (blocksCount * blockSize > volumeSize * 2 + blockSize * blocksPerGroup) throw bad(`${blocksCount} blocks do not fit a ${volumeSize}-byte disk`);
  if (featureIncompat & UNSUPPORTED_INCOMPAT) {
    const names = featureNames({ featureCompat: 0, featureIncompat: featureIncompat & UNSUPPORTED_INCOMPAT, featureRoCompat: 0 });
    throw new LcowError('EUNSUPPORTED', `ext4 features not supported: ${names.join(', ')}`, {});
  }
  if (featureRoCompat & RO_COMPAT.bigalloc) throw new LcowError('EUNSUPPORTED', 'ext4 bigalloc is not supported', {});
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  const words = { featureCompat, featureIncompat, featureRoCompat };
  return {
    inodesCount: b.readUInt32LE(0x00),
    blocksCount,
    reservedBlocksCount: b.readUInt32LE(0x08) + (is64 ? b.readUInt32LE(0x154) * 2 ** 32 : 0),
    freeBlocksCount: b.readUInt32LE(0x0c) + (is64 ? b.readUInt32LE(0x158) * 2 ** 32 : 0),
    freeInodesCount: b.readUInt32LE(0x10),
    firstDataBlock,
    blockSize,
    blocksPerGroup,
    inodesPerGroup,
    inodeSize,
    groupCount,
    descSize,
    firstMetaBg: b.readUInt32LE(0x104),
    backupBgs: [b.readUInt32LE(0x24c), b.readUInt32LE(0x250)],
    logGroupsPerFlex: b.readUInt8(0x174),
    ...words,
    features: featureNames(words),
    uuid: formatUuid(b.subarray(0x68, 0x78)),
    label: cString(b.subarray(0x78, 0x88)),
    lastMounted: cString(b.subarray(0x88, 0xc8)),
    readOnly: (featureRoCompat & RO_COMPAT.read_only) !== 0,
    defaultHashVersion: b[0xfc]!,
    hashSeed: Buffer.from(b.subarray(0xec, 0xfc)),
    clean: (b.readUInt16LE(0x3a) & 1) !== 0,
    needsRecovery: (featureIncompat & INCOMPAT.needs_recovery) !== 0,
    mkfsTime: b.readUInt32LE(0x108),
    writeTime: b.readUInt32LE(0x30),
  };
}
