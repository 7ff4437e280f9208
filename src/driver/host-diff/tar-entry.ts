/**
 * One file-system object → the bytes of its tar header(s): a ustar header,
 * preceded by a PAX `x` header whenever ustar cannot say it exactly (long or
 * non-ASCII names and link targets, nanosecond or out-of-range times, big
 * ids and sizes, extended attributes).
 *
 * Written by hand rather than with tar-stream's pack because pack encodes
 * PAX values as UTF-8 strings — binary `SCHILY.xattr.*` values (capabilities,
 * ACLs) would be corrupted — and refuses a body for a caller-made `x` entry.
 * The output is read back by tar-stream, GNU tar and Go's archive/tar.
 */
import type { Timestamp } from '../../ext4/index.js';
import { encodePax, paxTime, type PaxRecords } from './pax.js';

export type TarType = 'file' | 'link' | 'symlink' | 'directory' | 'block-device' | 'character-device' | 'fifo';

export interface TarItem {
  /** Relative name, '/'-separated, no leading '/', no trailing '/'. */
  name: string;
  type: TarType;
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

export const BLOCK = 512;

const TYPEFLAG: Record<TarType | 'pax', string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  pax: 'x',
};

const OCTAL7_MAX = 0o7777777; // uid, gid, devmajor, devminor
const OCTAL11_MAX = 0o77777777777; // size, mtime
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function fitsUstarText(s: string, max: number): boolean {
  return PRINTABLE_ASCII.test(s) && s.length <= max;
}

/** An ASCII stand-in for a name carried by PAX (keeps the tail, which is what people read). */
function standIn(s: string, max: number): string {
  const ascii = s.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= max ? ascii : ascii.slice(ascii.length - max);
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  // width includes the terminating NUL
  buf.write(
    Math.trunc(value)
      .toString(8)
      .padStart(width - 1, '0') + '\0',
    offset,
    width,
    'ascii',
  );
}

interface UstarFields {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeSec: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

export function encodeUstarHeader(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(f.name, 0, 100, 'ascii');
  octal(b, 100, 8, f.mode);
  octal(b, 108, 8, f.uid);
  octal(b, 116, 8, f.gid);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, f.mtimeSec);
  b.write(f.typeflag, 156, 1, 'ascii');
  b.write(f.linkname, 157, 100, 'ascii');
  b.write('ustar\u000000', 257, 8, 'ascii');
  octal(b, 329, 8, f.devmajor);
  octal(b, 337, 8, f.devminor);
  // Checksum: sum of all bytes with the checksum field read as spaces.
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

/** Zero bytes that pad a body of `size` bytes to the next block boundary. */
export function padding(size: number): Buffer {
  const rem = size % BLOCK;
  return Buffer.alloc(rem === 0 ? 0 : BLOCK - rem);
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/** The header bytes for `item` (PAX header + body + ustar header); the caller writes the body and padding. */
export function encodeTarItem(item: TarItem): Buffer {
  const records: PaxRecords = [];
  const isDir = item.type === 'directory';
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
  if (uid > OCTAL7_MAX) {
    records.push(['uid', String(uid)]);
    uid = 0;
  }
  if (gid > OCTAL7_MAX) {
    records.push(['gid', String(gid)]);
    gid = 0;
  }
  const { sec, nsec } = item.mtime;
  let mtimeSec = sec;
  if (nsec !== 0 || sec < 0 || sec > OCTAL11_MAX) {
    records.push(['mtime', paxTime(sec, nsec)]);
    mtimeSec = Math.min(Math.max(sec, 0), OCTAL11_MAX);
  }
  let size = item.type === 'file' ? item.size : 0;
  if (size > OCTAL11_MAX) {
    records.push(['size', String(size)]);
    size = 0;
  }
  for (const [k, v] of item.xattrs ?? []) records.push([`SCHILY.xattr.${k}`, v]);

  const main = encodeUstarHeader({
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
  const pax = encodePax(records);
  const paxHeader = encodeUstarHeader({
    name: standIn(`PaxHeaders.0/${item.name.split('/').pop() ?? ''}`, 99),
    typeflag: TYPEFLAG.pax,
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
