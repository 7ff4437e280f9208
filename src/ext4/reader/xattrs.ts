/**
 * Extended attributes, in the inode (after the extra fields: magic
 * 0xEA020000, then entries, values addressed from the first entry) and in
 * one external block (32-byte header with the same magic, entries from byte
 * 32, values addressed from the block start).
 *
 *   entry: name_len u8, name_index u8, value_offs u16, value_inum u32
 *          (ea_inode: the value is that inode's data), value_size u32,
 *          hash u32, name (padded to 4 bytes). A zero u32 ends the list.
 *
 * name_index gives the prefix: 1 user., 2 system.posix_acl_access,
 * 3 system.posix_acl_default, 4 trusted., 6 security., 7 system.,
 * 8 system.richacl.
 */
import { LcowError } from '../../errors.js';

export const XATTR_MAGIC = 0xea020000;

const PREFIXES: Record<number, string> = {
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  6: 'security.',
  7: 'system.',
  8: 'system.richacl',
};

export interface RawXattr {
  name: string;
  nameIndex: number;
  /** The value, unless it lives in an EA inode (then `valueInode` and `valueSize`). */
  value: Buffer | undefined;
  valueInode: number;
  valueSize: number;
}

/**
 * Parse an entry list. `entries` starts at the first entry; `values` is the
 * buffer value offsets are relative to. Out-of-range entries are EBADIMAGE.
 */
export function parseXattrEntries(entries: Buffer, values: Buffer, ino: number, where: string): RawXattr[] {
  const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `inode ${ino}: ${where} xattr ${why}`, { inode: ino });
  const out: RawXattr[] = [];
  let at = 0;
  while (at + 4 <= entries.length && entries.readUInt32LE(at) !== 0) {
    if (at + 16 > entries.length) throw bad('entry runs past the end');
    const nameLen = entries[at];
    const nameIndex = entries[at + 1];
    const valueOffs = entries.readUInt16LE(at + 2);
    const valueInode = entries.readUInt32LE(at + 4);
    const valueSize = entries.readUInt32LE(at + 8);
    if (at + 16 + nameLen > entries.length) throw bad('name runs past the end');
    const suffix = entries.toString('utf8', at + 16, at + 16 + nameLen);
    const prefix = PREFIXES[nameIndex] ?? `unknown${nameIndex}.`;
    let value: Buffer | undefined;
    if (valueInode === 0) {
      if (valueOffs + valueSize > values.length) throw bad(`value of ${prefix}${suffix} runs past the end`);
      value = Buffer.from(values.subarray(valueOffs, valueOffs + valueSize));
    }
    out.push({ name: prefix + suffix, nameIndex, value, valueInode, valueSize });
    at += (16 + nameLen + 3) & ~3;
  }
  return out;
}

/** The in-inode area (bytes after i_extra_isize); empty when it lacks the magic. */
export function parseInodeXattrs(area: Buffer, ino: number): RawXattr[] {
  if (area.length < 4 || area.readUInt32LE(0) !== XATTR_MAGIC) return [];
  const entries = area.subarray(4);
  return parseXattrEntries(entries, entries, ino, 'in-inode');
}

/** An external xattr block (i_file_acl). */
export function parseXattrBlock(block: Buffer, ino: number): RawXattr[] {
  if (block.length < 32 || block.readUInt32LE(0) !== XATTR_MAGIC) {
    throw new LcowError('EBADIMAGE', `inode ${ino}: xattr block has a bad magic`, { inode: ino });
  }
  return parseXattrEntries(block.subarray(32), block, ino, 'block');
}
