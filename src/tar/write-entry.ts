/**
 * The writer's half: one file-system object → the bytes of its header(s), a
 * ustar header preceded by a PAX `x` header whenever ustar cannot say it
 * exactly (long or non-ASCII names and link targets, nanosecond or
 * out-of-range times, big ids and sizes, extended attributes).
 *
 * Our own encoder rather than tar-stream's pack (which this project uses for
 * image archives, see src/image/docker-save.ts): pack writes PAX values as
 * UTF-8 strings, so binary `SCHILY.xattr.*` values (capabilities, ACLs)
 * would be corrupted; it refuses a body for a caller-made `x` entry; and the
 * diff writer must next write raw-byte (non-UTF-8) names and GNU sparse 1.0
 * maps, which pack cannot express at all. The output is read back by
 * tar-stream, GNU tar and Go's archive/tar.
 */
import type { TarEntryKind, Timestamp } from './entry.js';
import { BLOCK, blockPadding, encodeHeader } from './header.js';
import { octalMax } from './large-numbers.js';
import { encodePaxRecords, encodePaxTime, type PaxRecords } from './pax.js';
import { META_TYPEFLAG, TYPEFLAG } from './types.js';

export interface TarItem {
  /** Relative name, '/'-separated, no leading '/', no trailing '/'. */
  name: string;
  type: TarEntryKind;
  mode: number;
  uid: number;
  gid: number;
  /** Body length ('file' only). */
  size: number;
  mtime: Timestamp;
  /** Symlink target, or the earlier name a hard link points at. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
}

const ID_MAX = octalMax(8); // uid, gid, devmajor, devminor
const NUMBER_MAX = octalMax(12); // size, mtime
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function fitsUstarText(s: string, max: number): boolean {
  return PRINTABLE_ASCII.test(s) && s.length <= max;
}

/** An ASCII stand-in for a name carried by PAX (keeps the tail, which is what people read). */
function standIn(s: string, max: number): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= max ? ascii : ascii.slice(ascii.length - max);
}

/** Zero bytes that pad a body of `size` bytes to the next block boundary. */
export function padding(size: number): Buffer {
  return Buffer.alloc(blockPadding(size));
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/** The header bytes for `item` (PAX header + body + ustar header); the caller writes the body and padding. */
export function encodeTarItem(item: TarItem): Buffer {
  const records: PaxRecords = [];
  const isDir = item.type === 'dir';
  const fullName = isDir ? `${item.name}/` : item.name;
  let name = fullName;
  // No ustar prefix/name split: PAX `path` is simpler and every reader supports it.
  if (!fitsUstarText(fullName, 100)) {
    records.push(['path', fullName]);
    name = isDir ? standIn(item.name, 98) + '/' : standIn(item.name, 99);
  }
  let linkname = item.linkname ?? '';
  if (linkname && !fitsUstarText(linkname, 100)) {
    records.push(['linkpath', linkname]);
    linkname = standIn(linkname, 99);
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
  let size = item.type === 'file' ? item.size : 0;
  if (size > NUMBER_MAX) {
    records.push(['size', String(size)]);
    size = 0;
  }
  for (const [k, v] of item.xattrs ?? []) records.push([`SCHILY.xattr.${k}`, v]);

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
  if (records.length === 0) return main;
  const pax = encodePaxRecords(records);
  const paxHeader = encodeHeader({
    name: standIn(`PaxHeaders.0/${item.name.split('/').pop() ?? ''}`, 99),
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
  return Buffer.concat([paxHeader, pax, padding(pax.length), main]);
}
