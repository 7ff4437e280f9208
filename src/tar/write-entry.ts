/**
 * The writer's half: one file-system object → the bytes of its header(s), a
 * ustar header preceded by a PAX `x` header whenever ustar cannot say it
 * exactly (long or non-ASCII names and link targets, nanosecond or
 * out-of-range times, big ids and sizes, extended attributes, sparse maps).
 *
 * Names are bytes: a Linux file name need not be UTF-8, and rewriting one
 * (to U+FFFD, say) can make two files one. A name given as a Buffer is
 * written as it is; when it is not UTF-8 the PAX header says
 * `hdrcharset=BINARY`, as POSIX asks, and GNU tar and Go extract the bytes.
 *
 * Sparse files are written as GNU sparse 1.0 (the PAX form GNU tar 1.34,
 * Go's archive/tar and this project's reader read): `GNU.sparse.major=1`,
 * `minor=0`, `name` and `realsize` in PAX; the header names a stand-in
 * `DIR/GNUSparseFile.0/BASE`; the body starts with the map (decimal lines,
 * padded to a block), then the data regions back to back. A 1 TiB file with
 * one block of data is a few kilobytes of tar.
 *
 * Our own encoder rather than tar-stream's pack (which this project uses for
 * image archives, see src/image/docker-save.ts): pack writes PAX values as
 * UTF-8 strings, so binary `SCHILY.xattr.*` values (capabilities, ACLs) and
 * non-UTF-8 names would be corrupted, and it has no sparse form.
 */
import { isUtf8 } from 'node:buffer';
import { LcowError } from '../errors.js';
import type { SparseRegion, TarEntryKind, Timestamp } from './entry.js';
import { BLOCK, blockPadding, encodeHeader } from './header.js';
import { octalMax } from './large-numbers.js';
import { textToBuffer } from '../byte-names.js';
import { encodePaxRecords, encodePaxTime, encodeXattrKeyword, type PaxRecords } from './pax.js';
import { META_TYPEFLAG, TYPEFLAG } from './types.js';

export interface TarItem {
  /** Relative name, '/'-separated, no leading '/', no trailing '/': text (written as UTF-8) or bytes (written as they are). */
  name: string | Buffer;
  type: TarEntryKind;
  mode: number;
  uid: number;
  gid: number;
  /** Body length ('file' only); with `sparse`, the real size, holes included. */
  size: number;
  mtime: Timestamp;
  /** Symlink target, or the earlier name a hard link points at. */
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  /** Full name → value; names as text (stray bytes as U+DC80..U+DCFF, see src/byte-names.ts), written as their bytes. */
  xattrs?: Map<string, Buffer>;
  /**
   * A sparse file's data regions (ascending, disjoint, inside `size`), each
   * starting at a multiple of 512 and, but for the last, a multiple of 512
   * long: GNU tar reads every region from a block boundary, Go and Python
   * read them back to back, and only such regions mean the same to both
   * (ext4's block-aligned extents are). The caller writes their bytes back
   * to back after the header, then padding(Σ lengths).
   */
  sparse?: readonly SparseRegion[];
}

const ID_MAX = octalMax(8); // uid, gid, devmajor, devminor
const NUMBER_MAX = octalMax(12); // size, mtime

const NO_BYTES = Buffer.alloc(0);

function bytes(s: string | Buffer | undefined): Buffer {
  if (s === undefined || s === '') return NO_BYTES;
  return typeof s === 'string' ? textToBuffer(s) : s; // text as the reader gives it: stray bytes escaped as U+DC80..U+DCFF
}

function fitsUstarText(b: Buffer, max: number): boolean {
  if (b.length > max) return false;
  for (const c of b) if (c < 0x20 || c > 0x7e) return false;
  return true;
}

/** An ASCII stand-in for a name carried by PAX (keeps the tail, which is what people read). */
function standIn(b: Buffer, max: number): string {
  let ascii = '';
  for (const c of b) ascii += c >= 0x20 && c <= 0x7e ? String.fromCharCode(c) : '_';
  return ascii.length <= max ? ascii : ascii.slice(ascii.length - max);
}

/** Zero bytes that pad a body of `size` bytes to the next block boundary. */
export function padding(size: number): Buffer {
  return Buffer.alloc(blockPadding(size));
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/**
 * The GNU sparse 1.0 map that starts a sparse entry's body: the region count,
 * then offset and length of each, one decimal per line, NUL-padded to a
 * block. A file that ends in a hole gets a last empty region at its end, as
 * GNU tar writes, so that readers which size the file from the map agree.
 */
export function encodeSparseMap(regions: readonly SparseRegion[], realSize: number): Buffer {
  const all = [...regions];
  const last = all[all.length - 1];
  if ((last ? last.offset + last.length : 0) < realSize) all.push({ offset: realSize, length: 0 });
  const text = `${all.length}\n` + all.map((r) => `${r.offset}\n${r.length}\n`).join('');
  const map = Buffer.from(text, 'latin1');
  return Buffer.concat([map, padding(map.length)]);
}

function checkSparseRegions(regions: readonly SparseRegion[], size: number): void {
  let end = 0;
  for (const [i, r] of regions.entries()) {
    const last = i === regions.length - 1;
    if (r.offset < end || r.offset + r.length > size || r.offset % BLOCK !== 0 || (!last && r.length % BLOCK !== 0)) {
      throw new LcowError('EINVAL', `sparse region ${i} (${r.offset}+${r.length}) is not block-aligned, ascending and inside ${size} bytes`, { region: r });
    }
    end = r.offset + r.length;
  }
}

/** The header bytes for `item` (PAX header + body + ustar header, and a sparse map); the caller writes the body and padding. */
export function encodeTarItem(item: TarItem): Buffer {
  const records: PaxRecords = [];
  const isDir = item.type === 'dir';
  const nameBytes = bytes(item.name);
  const fullName = isDir ? Buffer.concat([nameBytes, Buffer.from('/')]) : nameBytes;
  const linkBytes = bytes(item.linkname);
  const sparse = item.type === 'file' ? item.sparse : undefined;
  if (!isUtf8(fullName) || !isUtf8(linkBytes)) records.push(['hdrcharset', 'BINARY']);

  let name: string;
  let sparseMap: Buffer | undefined;
  let size = item.type === 'file' ? item.size : 0;
  if (sparse) {
    checkSparseRegions(sparse, item.size);
    // The real name and size live in GNU.sparse.*; a reader that knows no sparse files sees a stand-in holding the map and the data.
    sparseMap = encodeSparseMap(sparse, item.size);
    records.push(['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', fullName], ['GNU.sparse.realsize', String(item.size)]);
    const slash = nameBytes.lastIndexOf(0x2f);
    const dir = slash < 0 ? Buffer.from('.') : nameBytes.subarray(0, slash);
    name = standIn(Buffer.concat([dir, Buffer.from('/GNUSparseFile.0/'), nameBytes.subarray(slash + 1)]), 99);
    size = sparseMap.length + sparse.reduce((n, r) => n + r.length, 0);
  } else if (fitsUstarText(fullName, 100)) {
    name = fullName.toString('latin1');
  } else {
    // No ustar prefix/name split: PAX `path` is simpler and every reader supports it.
    records.push(['path', fullName]);
    name = isDir ? standIn(nameBytes, 98) + '/' : standIn(nameBytes, 99);
  }
  let linkname = linkBytes.toString('latin1');
  if (linkBytes.length > 0 && !fitsUstarText(linkBytes, 100)) {
    records.push(['linkpath', linkBytes]);
    linkname = standIn(linkBytes, 99);
  }
  let uid = item.uid;
  let gid = item.gid;
  if (uid > ID_MAX) {
    records.push(['uid', String(uid)]);
    uid = 0;
  }
  if (gid > ID_MAX) {
    records.push(['gid', String(gid)]);
    gid = 0;
  }
  const { sec, nsec } = item.mtime;
  let mtimeSec = sec;
  if (nsec !== 0 || sec < 0 || sec > NUMBER_MAX) {
    records.push(['mtime', encodePaxTime(item.mtime)]);
    mtimeSec = Math.min(Math.max(sec, 0), NUMBER_MAX);
  }
  if (size > NUMBER_MAX) {
    records.push(['size', String(size)]);
    size = 0;
  }
  for (const [k, v] of item.xattrs ?? []) records.push([encodeXattrKeyword(textToBuffer(k)), v]);

  const main = encodeHeader({
    name,
    typeflag: TYPEFLAG[item.type],
    mode: item.mode & 0o7777,
    uid,
    gid,
    size,
    mtimeSec,
    linkname,
    devmajor: item.devmajor ?? 0,
    devminor: item.devminor ?? 0,
  });
  const tail = sparseMap ? [main, sparseMap] : [main];
  if (records.length === 0) return sparseMap ? Buffer.concat(tail) : main;
  const pax = encodePaxRecords(records);
  const paxHeader = encodeHeader({
    name: standIn(Buffer.concat([Buffer.from('PaxHeaders.0/'), nameBytes.subarray(nameBytes.lastIndexOf(0x2f) + 1)]), 99),
    typeflag: META_TYPEFLAG.pax,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: pax.length,
    mtimeSec,
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, pax, padding(pax.length), ...tail]);
}
