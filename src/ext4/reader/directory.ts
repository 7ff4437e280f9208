/**
 * Directory entries (`ext4_dir_entry_2`): inode u32, rec_len u16, name_len
 * u8, file_type u8 (with the filetype feature; without it name_len is u16),
 * then the name. rec_len chains the entries through the block.
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
import type { FileKind } from './inode.js';

export interface DirEntry {
  name: string;
  ino: number;
  /** From the entry's file_type when the volume has the filetype feature. */
  kind: FileKind | undefined;
}

const FILE_TYPES: Array<FileKind | undefined> = [undefined, 'file', 'dir', 'char', 'block', 'fifo', 'socket', 'symlink'];

/** Parse the entries of one directory block (or the inline-data area); `.` and `..` are included. */
export function parseDirEntries(b: Buffer, hasFileType: boolean, dirIno: number, out: DirEntry[]): void {
  let at = 0;
  while (at + 8 <= b.length) {
    const ino = b.readUInt32LE(at);
    let recLen = b.readUInt16LE(at + 4);
    // 64 KiB blocks store a full-block rec_len as 0 or 65535 (ext4_rec_len_from_disk)
    if ((recLen === 0 || recLen === 65535) && b.length === 65536 && at === 0) recLen = 65536;
    const nameLen = hasFileType ? b[at + 6] : b.readUInt16LE(at + 6);
    if (recLen < 8 || recLen % 4 !== 0 || at + recLen > b.length || (ino !== 0 && 8 + nameLen > recLen)) {
      throw new LcowError('EBADIMAGE', `directory inode ${dirIno}: bad entry at byte ${at} (rec_len ${recLen}, name_len ${nameLen})`, { inode: dirIno });
    }
    if (ino !== 0 && nameLen > 0) {
      out.push({
        name: b.toString('utf8', at + 8, at + 8 + nameLen),
        ino,
        kind: hasFileType ? FILE_TYPES[b[at + 7]] : undefined,
      });
    }
    at += recLen;
  }
}

/**
 * An inline-data directory (inline_data feature): i_block starts with the
 * parent's inode number (there is no "." or ".." entry), then entries fill
 * the rest of i_block and continue in the system.data xattr value.
 */
export function parseInlineDir(iBlock: Buffer, xattrPart: Buffer | undefined, hasFileType: boolean, dirIno: number): DirEntry[] {
  const out: DirEntry[] = [
    { name: '.', ino: dirIno, kind: 'dir' },
    { name: '..', ino: iBlock.readUInt32LE(0), kind: 'dir' },
  ];
  parseDirEntries(iBlock.subarray(4, 60), hasFileType, dirIno, out);
  if (xattrPart && xattrPart.length) parseDirEntries(xattrPart, hasFileType, dirIno, out);
  return out;
}
