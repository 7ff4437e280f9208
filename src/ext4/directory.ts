/**
 * Linear directory blocks (ext4_dir_entry_2): inode, rec_len, name_len,
 * file_type, name padded to 4 bytes. An entry never crosses a block; the
 * last entry of a block stretches its rec_len to the block's end.
 */
import { BLOCK_SIZE } from './constants.js';

export interface DirectoryEntry {
  name: Buffer;
  inode: number;
  fileType: number;
}

const DIRENT_HEADER = 8;

export function direntSize(nameLen: number): number {
  return (DIRENT_HEADER + nameLen + 3) & ~3;
}

/** Blocks needed for `nameLengths` (the '.' and '..' entries included by the caller). */
export function directoryBlockCount(nameLengths: Iterable<number>): number {
  let blocks = 1;
  let used = 0;
  for (const len of nameLengths) {
    const size = direntSize(len);
    if (used + size > BLOCK_SIZE) {
      blocks++;
      used = 0;
    }
    used += size;
  }
  return blocks;
}

/** Encode entries (in order; '.' and '..' first) into whole blocks. */
export function encodeDirectory(entries: DirectoryEntry[]): Buffer {
  const blocks = directoryBlockCount(entries.map((e) => e.name.length));
  const out = Buffer.alloc(blocks * BLOCK_SIZE);
  let blockStart = 0;
  let pos = 0;
  let lastOff = -1;
  const seal = () => {
    if (lastOff >= 0) out.writeUInt16LE(blockStart + BLOCK_SIZE - lastOff, lastOff + 4);
  };
  for (const e of entries) {
    const size = direntSize(e.name.length);
    if (pos + size > blockStart + BLOCK_SIZE) {
      seal();
      blockStart += BLOCK_SIZE;
      pos = blockStart;
    }
    out.writeUInt32LE(e.inode, pos);
    out.writeUInt16LE(size, pos + 4);
    out.writeUInt8(e.name.length, pos + 6);
    out.writeUInt8(e.fileType, pos + 7);
    e.name.copy(out, pos + DIRENT_HEADER);
    lastOff = pos;
    pos += size;
  }
  seal();
  return out;
}

/** Decode the live entries of directory blocks (entries with inode 0 are skipped). */
export function decodeDirectory(data: Buffer): DirectoryEntry[] {
  const out: DirectoryEntry[] = [];
  let pos = 0;
  while (pos + DIRENT_HEADER <= data.length) {
    const inode = data.readUInt32LE(pos);
    const recLen = data.readUInt16LE(pos + 4);
    const nameLen = data.readUInt8(pos + 6);
    if (recLen < DIRENT_HEADER) break;
    if (inode !== 0)
      out.push({ inode, fileType: data.readUInt8(pos + 7), name: Buffer.from(data.subarray(pos + DIRENT_HEADER, pos + DIRENT_HEADER + nameLen)) });
    pos += recLen;
  }
  return out;
}
