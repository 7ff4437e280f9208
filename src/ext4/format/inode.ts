/**
 * The inode (`struct ext4_inode`): the 128-byte base, then i_extra_isize
 * bytes of extra fields (the *_extra time words, crtime, …), then in-inode
 * extended attributes up to s_inode_size. The writer's inodes are 256 bytes
 * with i_extra_isize 32; the decoder reads any size.
 *
 *   0x00 mode u16   0x02 uid lo u16   0x04 size lo   0x08 atime   0x0C ctime
 *   0x10 mtime      0x14 dtime        0x18 gid lo u16  0x1A links u16
 *   0x1C blocks lo  0x20 flags        0x28 i_block[60]  0x68 file_acl lo
 *   0x6C size hi    0x74 blocks hi u16  0x76 file_acl hi u16
 *   0x78 uid hi u16  0x7A gid hi u16
 *   0x80 extra_isize u16  0x84 ctime_extra  0x88 mtime_extra  0x8C atime_extra
 *   0x90 crtime  0x94 crtime_extra
 */
import { EXTRA_ISIZE } from './constants.js';
import { decodeTime, encodeTimeInto, type EncodedTime, type Timestamp } from './timestamps.js';

export type FileKind = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/** i_mode's file-type bits. */
export const S_IFMT = 0o170000;
/** The file-type bits of each kind, beside the mode bits they share i_mode with. */
export const MODE_TYPE: Readonly<Record<FileKind, number>> = {
  socket: 0o140000,
  symlink: 0o120000,
  file: 0o100000,
  block: 0o060000,
  dir: 0o040000,
  char: 0o020000,
  fifo: 0o010000,
};

/** The kind of each file-type value (mode >> 12), undefined for the values no kind has. */
const KIND_OF_TYPE_BITS: ReadonlyArray<FileKind | undefined> = (() => {
  const table = new Array<FileKind | undefined>(16).fill(undefined);
  for (const [kind, bits] of Object.entries(MODE_TYPE) as Array<[FileKind, number]>) table[bits >> 12] = kind;
  return table;
})();

export function kindOfMode(mode: number): FileKind | undefined {
  return KIND_OF_TYPE_BITS[(mode & S_IFMT) >> 12];
}

/** i_flags bits the writer or the reader act on. */
export const INODE_FLAGS = {
  /** A hashed (htree) directory. */
  index: 0x1000,
  /** i_blocks counts file-system blocks, not 512-byte sectors (with the huge_file feature). */
  huge_file: 0x40000,
  extents: 0x80000,
  /** The inode holds a large xattr value (ea_inode feature). */
  ea_inode: 0x200000,
  inline_data: 0x10000000,
} as const;

/** What the writer sets. */
export interface InodeFields {
  /** Full i_mode: file-type bits | permission bits. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linksCount: number;
  /** i_blocks as stored: 512-byte units (huge_file lets it use 48 bits), file-system blocks with the huge_file inode flag. */
  blocks: number;
  flags: number;
  /** The 60-byte i_block area: extent root, block map, fast symlink target, device number or inline data. */
  iBlock: Buffer;
  /** Block number of the external xattr block, or 0. */
  fileAcl: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  crtime: Timestamp;
  /** The in-inode xattr area (from byte 128 + i_extra_isize), or undefined for none. */
  xattrArea?: Buffer;
}

/** What the decoder reads. */
export interface Inode extends Omit<InodeFields, 'crtime' | 'xattrArea'> {
  ino: number;
  /** i_blocks is in file-system blocks (huge_file feature + HUGE_FILE inode flag). */
  blocksInFsUnits: boolean;
  /** Undefined for a 128-byte inode. */
  crtime: Timestamp | undefined;
  extraIsize: number;
  /** The bytes after the extra fields (in-inode xattrs live here); empty for a 128-byte inode. */
  xattrArea: Buffer;
}

const scratchTime: EncodedTime = { lo: 0, extra: 0 };

function putTime(v: DataView, t: Timestamp, loOff: number, extraOff: number): void {
  const sec = t.sec;
  const nsec = t.nsec;
  // Almost every time is whole seconds in [0, 2^31) with nanoseconds in range: no clamping, epoch bits 0.
  // Written without the general path's floating-point steps, whose results the baseline tier
  // boxes as heap numbers (an inode has four times): comparisons and Number.isInteger only, as
  // today's seconds are past 2^30, where even `sec | 0` is a new heap number. The extra word is
  // nsec << 2, as int32 bits.
  if (sec >= 0 && sec < 2 ** 31 && Number.isInteger(sec) && nsec >= 0 && nsec < 1e9 && Number.isInteger(nsec)) {
    v.setUint32(loOff, sec, true);
    v.setInt32(extraOff, nsec << 2, true);
    return;
  }
  const e = encodeTimeInto(t, scratchTime);
  v.setUint32(loOff, e.lo, true);
  v.setUint32(extraOff, e.extra, true);
}

/**
 * Encode into `out` at `offset` (INODE_SIZE bytes, assumed zero). Through a
 * DataView: one builtin call per field, where Buffer's write methods run
 * their range checks in JavaScript — an image has an inode per member.
 * `view`, a DataView over all of `out`, spares one per inode when many are
 * encoded into the same buffer.
 */
export function encodeInode(f: InodeFields, out: Buffer, offset = 0, view?: DataView): void {
  const v = view ?? new DataView(out.buffer, out.byteOffset, out.length);
  const o = offset;
  // Sizes and block counts under 2^32 (nearly all) skip the division: without TurboFan
  // each floating-point result is a heap number (cli/lean-heap.ts).
  const size = f.size;
  const blocks = f.blocks;
  const sizeHigh = size <= 0xffffffff ? 0 : Math.floor(size / 2 ** 32);
  const blocksHigh = blocks <= 0xffffffff ? 0 : Math.floor(blocks / 2 ** 32);
  v.setUint16(o + 0x0, f.mode & 0xffff, true);
  v.setUint16(o + 0x2, f.uid & 0xffff, true);
  v.setUint32(o + 0x4, sizeHigh === 0 ? size : size % 2 ** 32, true);
  v.setUint16(o + 0x18, f.gid & 0xffff, true);
  v.setUint16(o + 0x1a, f.linksCount, true);
  v.setUint32(o + 0x1c, blocksHigh === 0 ? blocks : blocks % 2 ** 32, true);
  v.setUint32(o + 0x20, f.flags >>> 0, true);
  out.set(f.iBlock.length === 60 ? f.iBlock : f.iBlock.subarray(0, 60), o + 0x28);
  v.setUint32(o + 0x68, f.fileAcl >>> 0, true);
  v.setUint32(o + 0x6c, sizeHigh, true);
  v.setUint16(o + 0x74, blocksHigh & 0xffff, true);
  v.setUint16(o + 0x78, (f.uid >>> 16) & 0xffff, true);
  v.setUint16(o + 0x7a, (f.gid >>> 16) & 0xffff, true);
  v.setUint16(o + 0x80, EXTRA_ISIZE, true);
  putTime(v, f.ctime, o + 0x0c, o + 0x84);
  putTime(v, f.mtime, o + 0x10, o + 0x88);
  putTime(v, f.atime, o + 0x08, o + 0x8c);
  putTime(v, f.crtime, o + 0x90, o + 0x94);
  if (f.xattrArea) out.set(f.xattrArea, o + 128 + EXTRA_ISIZE);
}

/** Decode inode `ino` from its on-disk bytes (`b`, s_inode_size long); `huge`: the volume has huge_file. */
export function decodeInode(b: Buffer, ino: number, huge: boolean): Inode {
  const big = b.length > 128;
  let extraIsize = big ? b.readUInt16LE(0x80) : 0;
  // A corrupt extra_isize must not push us off the inode; treat it as absent.
  if (extraIsize + 128 > b.length || extraIsize % 4 !== 0) extraIsize = 0;
  const has = (end: number): boolean => big && 128 + extraIsize >= end;
  const extra = (at: number): number | undefined => (has(at + 4) ? b.readUInt32LE(at) : undefined);
  const flags = b.readUInt32LE(0x20);
  const blocksHi = huge ? b.readUInt16LE(0x74) * 2 ** 32 : 0;
  return {
    ino,
    mode: b.readUInt16LE(0x00),
    uid: b.readUInt16LE(0x02) + b.readUInt16LE(0x78) * 0x10000,
    gid: b.readUInt16LE(0x18) + b.readUInt16LE(0x7a) * 0x10000,
    size: b.readUInt32LE(0x04) + b.readUInt32LE(0x6c) * 2 ** 32,
    linksCount: b.readUInt16LE(0x1a),
    blocks: b.readUInt32LE(0x1c) + blocksHi,
    blocksInFsUnits: huge && (flags & INODE_FLAGS.huge_file) !== 0,
    flags,
    iBlock: Buffer.from(b.subarray(0x28, 0x28 + 60)),
    fileAcl: b.readUInt32LE(0x68) + b.readUInt16LE(0x76) * 2 ** 32,
    atime: decodeTime(b.readUInt32LE(0x08), extra(0x8c)),
    ctime: decodeTime(b.readUInt32LE(0x0c), extra(0x84)),
    mtime: decodeTime(b.readUInt32LE(0x10), extra(0x88)),
    crtime: has(0x94) ? decodeTime(b.readUInt32LE(0x90), extra(0x94)) : undefined,
    extraIsize,
    xattrArea: big ? Buffer.from(b.subarray(128 + extraIsize)) : Buffer.alloc(0),
  };
}

/**
 * The largest i_size an inode can have on a volume of `blockSize`-byte
 * blocks, as e2fsck judges it: 2^32 blocks with extents (16 TiB at 4 KiB),
 * the 12 direct + single, double and triple indirect blocks with a block
 * map. A larger size is corrupt or hostile (2^63 made a diff stream forever).
 */
export function maxFileSize(blockSize: number, extents: boolean): number {
  if (extents) return 2 ** 32 * blockSize - 1;
  const perBlock = blockSize / 4;
  return Math.min(2 ** 32 * blockSize, (12 + perBlock + perBlock ** 2 + perBlock ** 3) * blockSize) - 1;
}

/** i_blocks in 512-byte units whatever the HUGE_FILE flag says. */
export function blocks512(inode: Inode, blockSize: number): number {
  return inode.blocksInFsUnits ? inode.blocks * (blockSize / 512) : inode.blocks;
}

/**
 * Device numbers in i_block, as the kernel keeps them: the old 16-bit
 * encoding (major << 8 | minor) in i_block[0] when both fit in 8 bits, else
 * the new 32-bit one in i_block[1] (minor low 8 bits | major 12 bits << 8 |
 * minor high 12 bits << 20: new_encode_dev / new_decode_dev).
 */
export function encodeDevice(major: number, minor: number): Buffer {
  const b = Buffer.alloc(60);
  if (major < 256 && minor < 256) {
    b.writeUInt32LE((major << 8) | minor, 0);
  } else {
    const enc = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
    b.writeUInt32LE(enc >>> 0, 4);
  }
  return b;
}

export function decodeDevice(iBlock: Buffer): { major: number; minor: number } {
  const old = iBlock.readUInt32LE(0);
  if (old !== 0) return { major: (old >>> 8) & 0xff, minor: old & 0xff };
  const dev = iBlock.readUInt32LE(4);
  return { major: (dev & 0xfff00) >>> 8, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) };
}
