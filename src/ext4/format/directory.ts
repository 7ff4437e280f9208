/**
 * Directory entries (`ext4_dir_entry_2`): inode u32, rec_len u16, name_len
 * u8, file_type u8 (with the filetype feature; without it name_len is u16),
 * then the name, padded to 4 bytes. rec_len chains the entries through the
 * block; an entry never crosses a block, and the writer stretches the last
 * entry of a block to its end.
 *
 * Entries with inode 0 are unused space. That one rule also skips every
 * structure that lives inside directory blocks but is not an entry:
 *  - the metadata_csum tail (inode 0, rec_len 12, file_type 0xDE);
 *  - in a hashed (htree) directory, the dx_root block's ".." entry has a
 *    rec_len running to the block end, so the dx_root_info and dx_entries
 *    behind it are never parsed as entries; every dx_node block starts with
 *    a fake entry of inode 0 whose rec_len is the whole block.
 * So reading all blocks of a directory linearly lists it, hashed or not,
 * which is what e2fsck and the kernel's readdir-by-block fallback rely on.
 */
import { LcowError } from '../../errors.js';
import { byteStringOf, writeText, type ByteString } from '../../byte-names.js';
import { BLOCK_SIZE } from './constants.js';
import type { FileKind } from './inode.js';

/** file_type of each kind (filetype feature); 0 is unknown. */
export const FILE_TYPE: Readonly<Record<FileKind, number>> = { file: 1, dir: 2, char: 3, block: 4, fifo: 5, socket: 6, symlink: 7 };
const KIND_OF_FILE_TYPE: Array<FileKind | undefined> = [undefined, 'file', 'dir', 'char', 'block', 'fifo', 'socket', 'symlink'];

export interface DirectoryEntry {
  /** The name's bytes (UTF-8 for everything the writer writes). */
  name: Buffer;
  ino: number;
  kind: FileKind;
}

const DIRENT_HEADER = 8;

export function direntSize(nameLen: number): number {
  return (DIRENT_HEADER + nameLen + 3) & ~3;
}

/**
 * The blocks a directory's entries take, counted as they are added (the
 * '.' and '..' entries included by the caller): the same packing as
 * DirectoryEncoder, which never splits an entry across blocks.
 */
export class DirectorySizer {
  blocks = 1;
  private used = 0;

  add(nameLength: number): void {
    const size = direntSize(nameLength);
    if (this.used + size > BLOCK_SIZE) {
      this.blocks++;
      this.used = 0;
    }
    this.used += size;
  }
}

/** Blocks needed for `nameLengths` (the '.' and '..' entries included by the caller). */
export function directoryBlockCount(nameLengths: ArrayLike<number>): number {
  const sizer = new DirectorySizer();
  for (let i = 0; i < nameLengths.length; i++) sizer.add(nameLengths[i]!);
  return sizer.blocks;
}

/** Encode entries (in order; '.' and '..' first) into whole blocks. */
export function encodeDirectory(entries: DirectoryEntry[]): Buffer {
  const out = Buffer.alloc(directoryBlockCount(entries.map((e) => e.name.length)) * BLOCK_SIZE);
  const enc = new DirectoryEncoder(out);
  for (let i = 0; i < entries.length; i++) enc.add(entries[i]!.ino, entries[i]!.kind, entries[i]!.name, entries[i]!.name.length);
  enc.finish();
  return out;
}

/**
 * Entries written one by one into `out` (zero-filled, as many whole blocks as
 * directoryBlockCount gives): the writer's path, with a name as exact text
 * written in place — no Buffer and no entry object per name (issue 11,
 * round 8: a directory's names are most of the finish's allocations).
 */
export class DirectoryEncoder {
  // A DataView: Buffer's write methods range-check in JavaScript on every call (see inode.ts).
  private readonly v: DataView;
  private blockStart = 0;
  private pos = 0;
  private lastOff = -1;

  constructor(private readonly out: Buffer) {
    this.v = new DataView(out.buffer, out.byteOffset, out.length);
  }

  /** `nameLength`: the name's length in bytes (textByteLength for text). */
  add(ino: number, kind: FileKind, name: Buffer | string, nameLength: number): void {
    const size = direntSize(nameLength);
    if (this.pos + size > this.blockStart + BLOCK_SIZE) {
      this.seal();
      this.blockStart += BLOCK_SIZE;
      this.pos = this.blockStart;
    }
    const pos = this.pos;
    const out = this.out;
    if (pos + size > out.length)
      throw new LcowError('EIO', 'internal layout mismatch: directory entries overflow the blocks planned for them', { ino, blocks: out.length / BLOCK_SIZE });
    this.v.setUint32(pos, ino, true);
    this.v.setUint16(pos + 4, size, true);
    out[pos + 6] = nameLength;
    out[pos + 7] = FILE_TYPE[kind];
    const written = typeof name === 'string' ? writeText(name, out, pos + DIRENT_HEADER) : name.copy(out, pos + DIRENT_HEADER);
    if (written !== nameLength)
      throw new LcowError('EIO', 'internal error: a directory entry name changed length while encoding', { ino, nameLength, written });
    this.lastOff = pos;
    this.pos = pos + size;
  }

  /** Stretch the last entry to its block's end. */
  finish(): void {
    this.seal();
  }

  private seal(): void {
    if (this.lastOff >= 0) this.v.setUint16(this.lastOff + 4, this.blockStart + BLOCK_SIZE - this.lastOff, true);
  }
}

export interface DecodedDirEntry {
  /** The name's bytes, one char per byte (see byte-names.ts). */
  name: ByteString;
  ino: number;
  /** From the entry's file_type when the volume has the filetype feature. */
  kind: FileKind | undefined;
}

/**
 * The live entries of one directory block (or inline-data area), appended to
 * `out`, which holds the directory's earlier entries: '.' must be the first
 * entry of a directory and '..' the second, and nowhere else. Malformed
 * entries and names no kernel could have written (empty, or holding '/' or
 * NUL, which would turn one name into a path) are EBADIMAGE.
 */
export function decodeDirectoryBlock(b: Buffer, hasFileType: boolean, dirIno: number, out: DecodedDirEntry[]): void {
  const bad = (at: number, why: string): LcowError =>
    new LcowError('EBADIMAGE', `directory inode ${dirIno}: ${why} at byte ${at}`, { inode: dirIno, offset: at });
  let at = 0;
  while (at + 8 <= b.length) {
    const ino = b.readUInt32LE(at);
    let recLen = b.readUInt16LE(at + 4);
    // 64 KiB blocks store a full-block rec_len as 0 or 65535 (ext4_rec_len_from_disk)
    if ((recLen === 0 || recLen === 65535) && b.length === 65536 && at === 0) recLen = 65536;
    const nameLen = hasFileType ? b[at + 6]! : b.readUInt16LE(at + 6);
    if (recLen < 8 || recLen % 4 !== 0 || at + recLen > b.length || (ino !== 0 && 8 + nameLen > recLen)) {
      throw bad(at, `bad entry (rec_len ${recLen}, name_len ${nameLen})`);
    }
    if (ino !== 0) {
      if (nameLen === 0) throw bad(at, 'an entry with an empty name');
      const name = byteStringOf(b, at + 8, at + 8 + nameLen);
      if (name.includes('/') || name.includes('\0')) throw bad(at, `a name holding '/' or NUL (${JSON.stringify(name)})`);
      if ((name === '.' && out.length !== 0) || (name === '..' && out.length !== 1)) throw bad(at, `'${name}' as entry ${out.length}`);
      out.push({ name, ino, kind: hasFileType ? KIND_OF_FILE_TYPE[b[at + 7]!] : undefined });
    }
    at += recLen;
  }
}

/**
 * An inline-data directory (inline_data feature): i_block starts with the
 * parent's inode number (there is no "." or ".." entry), then entries fill
 * the rest of i_block and continue in the system.data xattr value.
 */
export function decodeInlineDirectory(iBlock: Buffer, xattrPart: Buffer | undefined, hasFileType: boolean, dirIno: number): DecodedDirEntry[] {
  const out: DecodedDirEntry[] = [
    { name: '.' as ByteString, ino: dirIno, kind: 'dir' },
    { name: '..' as ByteString, ino: iBlock.readUInt32LE(0), kind: 'dir' },
  ];
  decodeDirectoryBlock(iBlock.subarray(4, 60), hasFileType, dirIno, out);
  if (xattrPart && xattrPart.length) decodeDirectoryBlock(xattrPart, hasFileType, dirIno, out);
  return out;
}
