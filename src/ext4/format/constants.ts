/**
 * Constants of the ext4 format (fs/ext4/ext4.h, and the kernel's "Data
 * Structures and Algorithms"), then the fixed parameters of the images this
 * library writes. Feature flags are in features.ts; mode and flag bits
 * beside the inode (inode.ts); directory file types in directory.ts.
 */

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const EXT4_MAGIC = 0xef53;

export const ROOT_INO = 2;
/** s_first_ino of a revision-1 volume: the first inode not reserved, where mke2fs puts lost+found. */
export const FIRST_INO = 11;
export const LOST_FOUND_INO = 11;

/** Largest length of one initialised extent, in blocks (longer lengths mark uninitialised extents). */
export const MAX_EXTENT_LEN = 32768;
/** Largest value of i_links_count; a directory past it gets 1 (dir_nlink). */
export const MAX_LINKS = 65000;
export const MAX_NAME_LEN = 255;
/** Symlink targets shorter than i_block (60 bytes) are stored inline. */
export const FAST_SYMLINK_MAX = 59;

// ---- the images this library writes

/** Every image uses 4 KiB blocks (DAX needs block size == page size). */
export const BLOCK_SIZE = 4096;
export const LOG_BLOCK_SIZE = 2; // s_log_block_size: 1024 << 2
export const BLOCKS_PER_GROUP = BLOCK_SIZE * 8; // one bitmap block covers a group
export const MAX_INODES_PER_GROUP = BLOCK_SIZE * 8;
export const INODE_SIZE = 256;
export const INODES_PER_BLOCK = BLOCK_SIZE / INODE_SIZE;
/** i_extra_isize: covers up to i_projid, so crtime and the *_extra fields exist. */
export const EXTRA_ISIZE = 32;
/** Bytes after the extra fields available for in-inode xattrs. */
export const INLINE_XATTR_SPACE = INODE_SIZE - 128 - EXTRA_ISIZE;
export const GROUP_DESC_SIZE = 32; // no 64bit feature
export const MAX_SYMLINK_LEN = BLOCK_SIZE - 1;
export const DEFAULT_MAX_DISK_SIZE = 128 * 1024 ** 3;

/**
 * ⌈a / b⌉ for a ≥ 0, b > 0. Divides only what divides exactly: without
 * TurboFan a fractional intermediate is a fresh heap number (cli/lean-heap.ts),
 * and this runs several times per inode at finish.
 */
export function ceilDiv(a: number, b: number): number {
  const rem = a % b;
  return (a - rem) / b + (rem > 0 ? 1 : 0);
}
