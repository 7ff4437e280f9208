/**
 * Extended attributes, in the inode (after the extra fields: magic
 * 0xEA020000, then entries, values addressed from the first entry) and in
 * one external block (32-byte header with the same magic, entries from byte
 * 32, values addressed from the block start). The writer packs them into the
 * inode while they fit, the rest into one 4 KiB block.
 *
 *   entry (ext4_xattr_entry): name_len u8, name_index u8, value_offs u16,
 *          value_inum u32 (ea_inode: the value is that inode's data),
 *          value_size u32, hash u32, name (padded to 4 bytes). A zero u32
 *          ends the list. Values sit at the end of their area, each padded to 4.
 *
 * The hashes are the kernel's (ext4_xattr_hash_entry and ext4_xattr_rehash);
 * e2fsck checks each entry's hash against its value.
 */
import { byteStringOf, bytesToText, textToBuffer } from '../../byte-names.js';
import { LcowError } from '../../errors.js';
import { BLOCK_SIZE, INLINE_XATTR_SPACE } from './constants.js';

export const XATTR_MAGIC = 0xea020000;
const ENTRY_HEADER = 16;
const BLOCK_HEADER = 32;

/** Name prefixes and their e_name_index; whole-name matches come first. */
const PREFIXES: Array<{ prefix: string; index: number; whole?: boolean }> = [
  { prefix: 'system.posix_acl_access', index: 2, whole: true },
  { prefix: 'system.posix_acl_default', index: 3, whole: true },
  { prefix: 'system.richacl', index: 8, whole: true },
  { prefix: 'user.', index: 1 },
  { prefix: 'trusted.', index: 4 },
  { prefix: 'security.', index: 6 },
  { prefix: 'system.', index: 7 },
];

export interface XattrRecord {
  index: number;
  /** The name without its prefix. */
  name: Buffer;
  value: Buffer;
}

export function splitXattrName(full: string): { index: number; name: Buffer } {
  for (const p of PREFIXES) {
    if (p.whole ? full === p.prefix : full.startsWith(p.prefix) && full.length > p.prefix.length) {
      return { index: p.index, name: textToBuffer(p.whole ? '' : full.slice(p.prefix.length)) };
    }
  }
  throw new LcowError('EUNSUPPORTED', `extended attribute namespace not supported by ext4: ${full}`, { xattr: full });
}

/** The full name of an entry: its index's prefix and the stored suffix (empty for the whole-name ACLs). */
export function joinXattrName(index: number, suffix: string): string {
  return (PREFIXES.find((x) => x.index === index)?.prefix ?? `unknown${index}.`) + suffix;
}

const pad4 = (n: number) => (n + 3) & ~3;
const entrySize = (r: XattrRecord) => ENTRY_HEADER + pad4(r.name.length);

/** ext4_xattr_hash_entry: rotate-xor over the name bytes, then over the value's 32-bit LE words. */
export function xattrEntryHash(name: Buffer, value: Buffer): number {
  let hash = 0;
  for (const c of name) hash = ((hash << 5) ^ (hash >>> 27) ^ c) >>> 0;
  const words = pad4(value.length) / 4;
  for (let i = 0; i < words; i++) {
    let w = 0;
    for (let k = 3; k >= 0; k--) w = w * 256 + (value[i * 4 + k] ?? 0);
    hash = ((hash << 16) ^ (hash >>> 16) ^ w) >>> 0;
  }
  return hash;
}

/** ext4_xattr_rehash: the block hash combines the entry hashes in order. */
export function xattrBlockHash(entryHashes: number[]): number {
  let hash = 0;
  for (const h of entryHashes) {
    if (h === 0) return 0;
    hash = ((hash << 16) ^ (hash >>> 16) ^ h) >>> 0;
  }
  return hash;
}

/**
 * Write entries at `entriesStart`, values packed down from `valuesEnd`;
 * value offsets are relative to `offsetBase`. Returns each entry's hash.
 */
function writeEntries(out: Buffer, records: XattrRecord[], entriesStart: number, valuesEnd: number, offsetBase: number): number[] {
  let pos = entriesStart;
  let valuePos = valuesEnd;
  const hashes: number[] = [];
  for (const r of records) {
    let offs = 0;
    if (r.value.length > 0) {
      valuePos -= pad4(r.value.length);
      r.value.copy(out, valuePos);
      offs = valuePos - offsetBase;
    }
    const hash = xattrEntryHash(r.name, r.value);
    hashes.push(hash);
    out.writeUInt8(r.name.length, pos);
    out.writeUInt8(r.index, pos + 1);
    out.writeUInt16LE(offs, pos + 2);
    out.writeUInt32LE(0, pos + 4); // e_value_inum: no ea_inode
    out.writeUInt32LE(r.value.length, pos + 8);
    out.writeUInt32LE(hash, pos + 12);
    r.name.copy(out, pos + ENTRY_HEADER);
    pos += entrySize(r);
  }
  return hashes;
}

export interface XattrLayout {
  /** INLINE_XATTR_SPACE bytes for the inode's tail, or undefined when nothing is inline. */
  inline?: Buffer;
  /** One 4 KiB block (refcount 1), or undefined when everything fit inline. */
  block?: Buffer;
}

/**
 * Place attributes: in the given order into the inode while they fit, the
 * rest into one block (sorted by index, name length, name, as the kernel's
 * block lookup assumes). Throws ETOOBIG when they do not fit in one block.
 */
export function layoutXattrs(xattrs: Map<string, Buffer>, context: Record<string, unknown> = {}): XattrLayout {
  if (xattrs.size === 0) return {};
  const inline: XattrRecord[] = [];
  const rest: XattrRecord[] = [];
  // magic + terminating zero word
  let inlineUsed = 8;
  for (const [full, value] of xattrs) {
    const { index, name } = splitXattrName(full);
    if (name.length > 255) throw new LcowError('ETOOBIG', `extended attribute name too long: ${full}`, { ...context, xattr: full });
    const r: XattrRecord = { index, name, value };
    const need = entrySize(r) + pad4(value.length);
    if (rest.length === 0 && inlineUsed + need <= INLINE_XATTR_SPACE) {
      inline.push(r);
      inlineUsed += need;
    } else {
      rest.push(r);
    }
  }
  const out: XattrLayout = {};
  if (inline.length > 0) {
    const b = Buffer.alloc(INLINE_XATTR_SPACE);
    b.writeUInt32LE(XATTR_MAGIC, 0);
    writeEntries(b, inline, 4, INLINE_XATTR_SPACE, 4);
    out.inline = b;
  }
  if (rest.length > 0) {
    rest.sort((a, b) => a.index - b.index || a.name.length - b.name.length || Buffer.compare(a.name, b.name));
    const used = BLOCK_HEADER + rest.reduce((n, r) => n + entrySize(r) + pad4(r.value.length), 0) + 4;
    if (used > BLOCK_SIZE) {
      throw new LcowError('ETOOBIG', `extended attributes need ${used} bytes, more than one ${BLOCK_SIZE}-byte block`, { ...context, bytes: used });
    }
    const b = Buffer.alloc(BLOCK_SIZE);
    b.writeUInt32LE(XATTR_MAGIC, 0);
    b.writeUInt32LE(1, 4); // h_refcount
    b.writeUInt32LE(1, 8); // h_blocks
    const hashes = writeEntries(b, rest, BLOCK_HEADER, BLOCK_SIZE, 0);
    b.writeUInt32LE(xattrBlockHash(hashes), 12);
    out.block = b;
  }
  return out;
}

/** The largest value Linux lets anyone set (XATTR_SIZE_MAX): a larger one was not written by a kernel. */
export const XATTR_VALUE_MAX = 64 * 1024;
/**
 * The most value bytes the reader accepts on one inode: sixteen values of the
 * largest size. Without ea_inode everything fits the inode and one block
 * (at most 64 KiB); with it, values live in their own inodes, which many
 * owners may share, so this cap is what bounds a walk's reading per inode.
 */
export const XATTR_BYTES_PER_INODE_MAX = 16 * XATTR_VALUE_MAX;

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
function decodeEntries(entries: Buffer, values: Buffer, ino: number, where: string): RawXattr[] {
  const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `inode ${ino}: ${where} xattr ${why}`, { inode: ino });
  const out: RawXattr[] = [];
  let at = 0;
  while (at + 4 <= entries.length && entries.readUInt32LE(at) !== 0) {
    if (at + ENTRY_HEADER > entries.length) throw bad('entry runs past the end');
    const nameLen = entries[at]!;
    const nameIndex = entries[at + 1]!;
    const valueOffs = entries.readUInt16LE(at + 2);
    const valueInode = entries.readUInt32LE(at + 4);
    const valueSize = entries.readUInt32LE(at + 8);
    if (at + ENTRY_HEADER + nameLen > entries.length) throw bad('name runs past the end');
    const suffix = byteStringOf(entries, at + ENTRY_HEADER, at + ENTRY_HEADER + nameLen);
    if (suffix.includes('\0')) throw bad('name holds a NUL byte'); // no kernel writes one: names are C strings
    const name = joinXattrName(nameIndex, bytesToText(suffix));
    let value: Buffer | undefined;
    if (valueInode === 0) {
      if (valueOffs + valueSize > values.length) throw bad(`value of ${name} runs past the end`);
      value = Buffer.from(values.subarray(valueOffs, valueOffs + valueSize));
    }
    out.push({ name, nameIndex, value, valueInode, valueSize });
    at += pad4(ENTRY_HEADER + nameLen);
  }
  return out;
}

/** The in-inode area (bytes after i_extra_isize); empty when it lacks the magic. */
export function decodeInodeXattrs(area: Buffer, ino: number): RawXattr[] {
  if (area.length < 4 || area.readUInt32LE(0) !== XATTR_MAGIC) return [];
  const entries = area.subarray(4);
  return decodeEntries(entries, entries, ino, 'in-inode');
}

/** An external xattr block (i_file_acl). */
export function decodeXattrBlock(block: Buffer, ino: number): RawXattr[] {
  if (block.length < BLOCK_HEADER || block.readUInt32LE(0) !== XATTR_MAGIC) {
    throw new LcowError('EBADIMAGE', `inode ${ino}: xattr block has a bad magic`, { inode: ino });
  }
  return decodeEntries(block.subarray(BLOCK_HEADER), block, ino, 'block');
}
