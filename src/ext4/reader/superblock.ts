/**
 * Decoding the ext4 superblock (1024 bytes at byte 1024 of the volume), for
 * the reader. Only the fields the reader needs, plus the ones `lcow inspect`
 * shows. Layout: the kernel's `struct ext4_super_block` (fs/ext4/ext4.h).
 */
import { LcowError } from '../../errors.js';

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
const EXT4_MAGIC = 0xef53;

/** Feature bits by name, for display and for the checks below. */
export const COMPAT = {
  dir_prealloc: 0x1,
  imagic_inodes: 0x2,
  has_journal: 0x4,
  ext_attr: 0x8,
  resize_inode: 0x10,
  dir_index: 0x20,
  lazy_bg: 0x40,
  exclude_bitmap: 0x100,
  sparse_super2: 0x200,
  fast_commit: 0x400,
  stable_inodes: 0x800,
  orphan_file: 0x1000,
} as const;
export const INCOMPAT = {
  compression: 0x1,
  filetype: 0x2,
  needs_recovery: 0x4,
  journal_dev: 0x8,
  meta_bg: 0x10,
  extent: 0x40,
  '64bit': 0x80,
  mmp: 0x100,
  flex_bg: 0x200,
  ea_inode: 0x400,
  dirdata: 0x1000,
  metadata_csum_seed: 0x2000,
  large_dir: 0x4000,
  inline_data: 0x8000,
  encrypt: 0x10000,
  casefold: 0x20000,
} as const;
export const RO_COMPAT = {
  sparse_super: 0x1,
  large_file: 0x2,
  btree_dir: 0x4,
  huge_file: 0x8,
  uninit_bg: 0x10,
  dir_nlink: 0x20,
  extra_isize: 0x40,
  snapshot: 0x80,
  quota: 0x100,
  bigalloc: 0x200,
  metadata_csum: 0x400,
  replica: 0x800,
  read_only: 0x1000,
  project: 0x2000,
  shared_blocks: 0x4000,
  verity: 0x8000,
  orphan_present: 0x10000,
} as const;

/** Incompatible features whose on-disk meaning this reader does not implement. */
const UNSUPPORTED_INCOMPAT = INCOMPAT.compression | INCOMPAT.journal_dev | INCOMPAT.dirdata | INCOMPAT.encrypt;

export interface Ext4Superblock {
  inodesCount: number;
  blocksCount: number;
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

export function hasIncompat(sb: Ext4Superblock, bit: number): boolean {
  return (sb.featureIncompat & bit) !== 0;
}
export function hasRoCompat(sb: Ext4Superblock, bit: number): boolean {
  return (sb.featureRoCompat & bit) !== 0;
}

function featureNames(bits: number, table: Record<string, number>): string[] {
  return Object.entries(table)
    .filter(([, v]) => (bits & v) !== 0)
    .map(([k]) => k);
}

function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}

/** Decode and sanity-check the superblock (`b` = the 1024 bytes). Throws EBADIMAGE / EUNSUPPORTED. */
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
    throw new LcowError('EUNSUPPORTED', `ext4 features not supported: ${featureNames(featureIncompat & UNSUPPORTED_INCOMPAT, INCOMPAT).join(', ')}`, {});
  }
  if (featureRoCompat & RO_COMPAT.bigalloc) throw new LcowError('EUNSUPPORTED', 'ext4 bigalloc is not supported', {});
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  const inodesCount = b.readUInt32LE(0x00);
  return {
    inodesCount,
    blocksCount,
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
    featureCompat,
    featureIncompat,
    featureRoCompat,
    features: [...featureNames(featureCompat, COMPAT), ...featureNames(featureIncompat, INCOMPAT), ...featureNames(featureRoCompat, RO_COMPAT)],
    uuid: uuidText(b.subarray(0x68, 0x78)),
    label: cString(b.subarray(0x78, 0x88)),
    lastMounted: cString(b.subarray(0x88, 0xc8)),
    readOnly: (featureRoCompat & RO_COMPAT.read_only) !== 0,
    defaultHashVersion: b[0xfc],
    hashSeed: Buffer.from(b.subarray(0xec, 0xfc)),
    clean: (b.readUInt16LE(0x3a) & 1) !== 0,
    needsRecovery: (featureIncompat & INCOMPAT.needs_recovery) !== 0,
    mkfsTime: b.readUInt32LE(0x108),
    writeTime: b.readUInt32LE(0x30),
  };
}
