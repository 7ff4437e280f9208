/**
 * Fixed parameters and on-disk constants of the ext4 images this library
 * writes. Values are from the kernel's ext4 "Data Structures and
 * Algorithms" documentation (fs/ext4/ext4.h).
 */

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
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const EXT4_MAGIC = 0xef53;

export const ROOT_INO = 2;
export const LOST_FOUND_INO = 11;
export const FIRST_INO = 11;

/** Largest length of one initialised extent, in blocks. */
export const MAX_EXTENT_LEN = 32768;
/** Largest value of i_links_count; a directory past it gets 1 (dir_nlink). */
export const MAX_LINKS = 65000;
export const MAX_NAME_LEN = 255;
/** Symlink targets shorter than i_block (60 bytes) are stored inline. */
export const FAST_SYMLINK_MAX = 59;
export const MAX_SYMLINK_LEN = BLOCK_SIZE - 1;

export const COMPAT = {
  EXT_ATTR: 0x8,
  RESIZE_INODE: 0x10,
  DIR_INDEX: 0x20,
  SPARSE_SUPER2: 0x200,
} as const;

export const INCOMPAT = {
  FILETYPE: 0x2,
  EXTENTS: 0x40,
  SIXTY_FOUR_BIT: 0x80,
  FLEX_BG: 0x200,
} as const;

export const RO_COMPAT = {
  SPARSE_SUPER: 0x1,
  LARGE_FILE: 0x2,
  HUGE_FILE: 0x8,
  DIR_NLINK: 0x20,
  EXTRA_ISIZE: 0x40,
  READONLY: 0x1000,
} as const;

/** i_mode file-type bits. */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** i_flags */
export const EXT4_EXTENTS_FL = 0x80000;

/** Directory entry file_type values (filetype feature). */
export const FT = {
  UNKNOWN: 0,
  REG_FILE: 1,
  DIR: 2,
  CHRDEV: 3,
  BLKDEV: 4,
  FIFO: 5,
  SOCK: 6,
  SYMLINK: 7,
} as const;

export const DEFAULT_MAX_DISK_SIZE = 128 * 1024 ** 3;

export function ceilDiv(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
