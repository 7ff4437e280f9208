/**
 * The 256-byte ext4 inode: the 128-byte classic part, 32 bytes of extra
 * fields (i_extra_isize = 32: nanosecond/epoch words, crtime), then the
 * in-inode extended-attribute area.
 */
import type { Timestamp } from './entry.js';
import { EXTRA_ISIZE, INODE_SIZE } from './constants.js';
import { decodeTime, encodeTime } from './timestamps.js';

export interface InodeFields {
  /** Full i_mode: file-type bits | permission bits. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linksCount: number;
  /** i_blocks in 512-byte units (huge_file lets it use 48 bits). */
  blocks512: number;
  flags: number;
  /** The 60-byte i_block area: extent root, fast symlink target or device number. */
  iBlock: Buffer;
  /** Block number of the external xattr block, or 0. */
  fileAcl: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  crtime: Timestamp;
  /** The in-inode xattr area (from byte 128 + EXTRA_ISIZE), or undefined for none. */
  inlineXattrs?: Buffer;
}

function putTime(b: Buffer, t: Timestamp, loOff: number, extraOff: number): void {
  const e = encodeTime(t);
  b.writeUInt32LE(e.lo, loOff);
  b.writeUInt32LE(e.extra, extraOff);
}

/** Encode into `out` at `offset` (INODE_SIZE bytes, assumed zero). */
export function encodeInode(f: InodeFields, out: Buffer, offset = 0): void {
  const b = out.subarray(offset, offset + INODE_SIZE);
  b.writeUInt16LE(f.mode & 0xffff, 0x0);
  b.writeUInt16LE(f.uid & 0xffff, 0x2);
  b.writeUInt32LE(f.size % 2 ** 32, 0x4);
  b.writeUInt16LE(f.gid & 0xffff, 0x18);
  b.writeUInt16LE(f.linksCount, 0x1a);
  b.writeUInt32LE(f.blocks512 % 2 ** 32, 0x1c);
  b.writeUInt32LE(f.flags >>> 0, 0x20);
  f.iBlock.copy(b, 0x28, 0, 60);
  b.writeUInt32LE(f.fileAcl >>> 0, 0x68);
  b.writeUInt32LE(Math.floor(f.size / 2 ** 32), 0x6c);
  b.writeUInt16LE(Math.floor(f.blocks512 / 2 ** 32) & 0xffff, 0x74);
  b.writeUInt16LE((f.uid >>> 16) & 0xffff, 0x78);
  b.writeUInt16LE((f.gid >>> 16) & 0xffff, 0x7a);
  b.writeUInt16LE(EXTRA_ISIZE, 0x80);
  putTime(b, f.ctime, 0x0c, 0x84);
  putTime(b, f.mtime, 0x10, 0x88);
  putTime(b, f.atime, 0x08, 0x8c);
  putTime(b, f.crtime, 0x90, 0x94);
  if (f.inlineXattrs) f.inlineXattrs.copy(b, 128 + EXTRA_ISIZE);
}

export function decodeInode(b: Buffer, offset = 0): InodeFields {
  const i = b.subarray(offset, offset + INODE_SIZE);
  return {
    mode: i.readUInt16LE(0x0),
    uid: i.readUInt16LE(0x2) + i.readUInt16LE(0x78) * 0x10000,
    gid: i.readUInt16LE(0x18) + i.readUInt16LE(0x7a) * 0x10000,
    size: i.readUInt32LE(0x4) + i.readUInt32LE(0x6c) * 2 ** 32,
    linksCount: i.readUInt16LE(0x1a),
    blocks512: i.readUInt32LE(0x1c) + i.readUInt16LE(0x74) * 2 ** 32,
    flags: i.readUInt32LE(0x20),
    iBlock: Buffer.from(i.subarray(0x28, 0x28 + 60)),
    fileAcl: i.readUInt32LE(0x68),
    ctime: decodeTime(i.readUInt32LE(0x0c), i.readUInt32LE(0x84)),
    mtime: decodeTime(i.readUInt32LE(0x10), i.readUInt32LE(0x88)),
    atime: decodeTime(i.readUInt32LE(0x08), i.readUInt32LE(0x8c)),
    crtime: decodeTime(i.readUInt32LE(0x90), i.readUInt32LE(0x94)),
    inlineXattrs: Buffer.from(i.subarray(128 + EXTRA_ISIZE)),
  };
}

/**
 * Device numbers in i_block, as the kernel writes them: the old 16-bit
 * encoding in i_block[0] when major and minor both fit in 8 bits, else the
 * new 32-bit encoding (12-bit major, 20-bit minor) in i_block[1].
 */
export function encodeDeviceIBlock(major: number, minor: number): Buffer {
  const b = Buffer.alloc(60);
  if (major < 256 && minor < 256) {
    b.writeUInt32LE((major << 8) | minor, 0);
  } else {
    const enc = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
    b.writeUInt32LE(enc >>> 0, 4);
  }
  return b;
}

export function decodeDeviceIBlock(b: Buffer): { major: number; minor: number } {
  const old = b.readUInt32LE(0);
  if (old !== 0) return { major: (old >>> 8) & 0xff, minor: old & 0xff };
  const n = b.readUInt32LE(4);
  return { major: (n & 0xfff00) >>> 8, minor: (n & 0xff) | ((n >>> 12) & 0xfff00) };
}
