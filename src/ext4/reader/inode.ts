/**
 * Decoding an inode (`struct ext4_inode`): the 128-byte base, then
 * i_extra_isize bytes of extra fields (the *_extra times, crtime, …), then
 * in-inode extended attributes up to s_inode_size.
 *
 *   0x00 mode u16   0x02 uid lo u16   0x04 size lo   0x08 atime   0x0C ctime
 *   0x10 mtime      0x14 dtime        0x18 gid lo u16  0x1A links u16
 *   0x1C blocks lo  0x20 flags        0x28 i_block[60]  0x68 file_acl lo
 *   0x6C size hi    0x74 blocks hi u16  0x76 file_acl hi u16
 *   0x78 uid hi u16  0x7A gid hi u16
 *   0x80 extra_isize u16  0x84 ctime_extra  0x88 mtime_extra  0x8C atime_extra
 *   0x90 crtime  0x94 crtime_extra
 */
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from '../constants.js';
import { decodeTime, type Ext4Time } from './timestamps.js';

export const INODE_FLAG_INDEX = 0x1000; // hashed directory
export const INODE_FLAG_HUGE_FILE = 0x40000;
export const INODE_FLAG_EXTENTS = 0x80000;
export const INODE_FLAG_EA_INODE = 0x200000;
export const INODE_FLAG_INLINE_DATA = 0x10000000;

export type FileKind = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export function kindOfMode(mode: number): FileKind | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'dir';
    case S_IFLNK:
      return 'symlink';
    case S_IFCHR:
      return 'char';
    case S_IFBLK:
      return 'block';
    case S_IFIFO:
      return 'fifo';
    case S_IFSOCK:
      return 'socket';
    default:
      return undefined;
  }
}

export interface RawInode {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linksCount: number;
  /** i_blocks as stored. */
  blocksRaw: number;
  /** i_blocks counts fs blocks, not 512-byte sectors (huge_file feature + HUGE_FILE inode flag). */
  blocksInFsUnits: boolean;
  flags: number;
  /** The 60-byte i_block area: extent root, block map, inline symlink or inline data. */
  iBlock: Buffer;
  fileAcl: number;
  atime: Ext4Time;
  ctime: Ext4Time;
  mtime: Ext4Time;
  crtime: Ext4Time | undefined;
  extraIsize: number;
  /** The bytes after the extra fields (in-inode xattrs live here). */
  inlineXattrArea: Buffer;
}

/** Decode inode `ino` from its on-disk bytes (`b`, s_inode_size long). */
export function decodeInode(b: Buffer, ino: number, huge: boolean): RawInode {
  const big = b.length > 128;
  let extraIsize = big ? b.readUInt16LE(0x80) : 0;
  // A corrupt extra_isize must not push us off the inode; treat it as absent.
  if (extraIsize + 128 > b.length || extraIsize % 4 !== 0) extraIsize = 0;
  const has = (end: number): boolean => big && 128 + extraIsize >= end;
  const extra = (at: number): number | undefined => (has(at + 4) ? b.readUInt32LE(at) : undefined);
  const flags = b.readUInt32LE(0x20);
  const blocksLo = b.readUInt32LE(0x1c);
  const blocksHi = b.readUInt16LE(0x74);
  const blocksRaw = blocksLo + (huge ? blocksHi * 2 ** 32 : 0);
  return {
    ino,
    mode: b.readUInt16LE(0x00),
    uid: b.readUInt16LE(0x02) + b.readUInt16LE(0x78) * 0x10000,
    gid: b.readUInt16LE(0x18) + b.readUInt16LE(0x7a) * 0x10000,
    size: b.readUInt32LE(0x04) + b.readUInt32LE(0x6c) * 2 ** 32,
    linksCount: b.readUInt16LE(0x1a),
    blocksRaw,
    blocksInFsUnits: huge && (flags & INODE_FLAG_HUGE_FILE) !== 0,
    flags,
    iBlock: Buffer.from(b.subarray(0x28, 0x28 + 60)),
    fileAcl: b.readUInt32LE(0x68) + b.readUInt16LE(0x76) * 2 ** 32,
    atime: decodeTime(b.readUInt32LE(0x08), extra(0x8c)),
    ctime: decodeTime(b.readUInt32LE(0x0c), extra(0x84)),
    mtime: decodeTime(b.readUInt32LE(0x10), extra(0x88)),
    crtime: has(0x94) ? decodeTime(b.readUInt32LE(0x90), extra(0x94)) : undefined,
    extraIsize,
    inlineXattrArea: big ? Buffer.from(b.subarray(128 + extraIsize)) : Buffer.alloc(0),
  };
}

/** i_blocks in 512-byte units whatever the HUGE_FILE flag says. */
export function blocks512(inode: RawInode, blockSize: number): number {
  return inode.blocksInFsUnits ? inode.blocksRaw * (blockSize / 512) : inode.blocksRaw;
}

/**
 * Device numbers from i_block: the old 16-bit encoding (major << 8 | minor)
 * in i_block[0] when it is non-zero, else the new 32-bit one in i_block[1]
 * (minor low 8 bits | major 12 bits << 8 | minor high 12 bits << 20), as the
 * kernel's new_decode_dev.
 */
export function decodeDevice(iBlock: Buffer): { major: number; minor: number } {
  const old = iBlock.readUInt32LE(0);
  if (old !== 0) return { major: (old >>> 8) & 0xff, minor: old & 0xff };
  const dev = iBlock.readUInt32LE(4);
  return { major: (dev & 0xfff00) >>> 8, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) };
}
