/**
 * The lstat-like view of an inode the reader hands out.
 */
import { blocks512, decodeDevice, type FileKind, type Inode } from '../format/inode.js';
import type { Timestamp } from '../format/timestamps.js';

export interface Ext4Stat {
  kind: FileKind;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** i_size: bytes for files and symlinks (the target's length), the directory's block span for directories. */
  size: number;
  nlink: number;
  inode: number;
  /** Allocated space in 512-byte units, like st_blocks (includes an xattr block). */
  blocks: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  /** Creation time; undefined for 128-byte inodes. */
  crtime: Timestamp | undefined;
  /** Device numbers for 'char' and 'block' (0 otherwise). */
  rdevMajor: number;
  rdevMinor: number;
  /** The raw inode flags (EXT4_*_FL). */
  flags: number;
}

export function statFromInode(inode: Inode, kind: FileKind, blockSize: number): Ext4Stat {
  const dev = kind === 'char' || kind === 'block' ? decodeDevice(inode.iBlock) : { major: 0, minor: 0 };
  return {
    kind,
    mode: inode.mode & 0o7777,
    uid: inode.uid,
    gid: inode.gid,
    size: inode.size,
    nlink: inode.linksCount,
    inode: inode.ino,
    blocks: blocks512(inode, blockSize),
    atime: inode.atime,
    mtime: inode.mtime,
    ctime: inode.ctime,
    crtime: inode.crtime,
    rdevMajor: dev.major,
    rdevMinor: dev.minor,
    flags: inode.flags,
  };
}
