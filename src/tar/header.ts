/**
 * One 512-byte tar header block: decoded without interpretation (the raw
 * fields of the V7 / ustar / old-GNU layouts, the checksum verified), and
 * encoded as ustar. PAX records, long names and sparse maps are applied by
 * the reader (read-entries.ts) and chosen by the writer (write-entry.ts);
 * this file only knows the fixed layout.
 *
 *   0 name[100]  100 mode[8]  108 uid[8]  116 gid[8]  124 size[12]
 * 136 mtime[12]  148 chksum[8] 156 typeflag  157 linkname[100]
 * 257 magic[6]   263 version[2] 265 uname[32] 297 gname[32]
 * 329 devmajor[8] 337 devminor[8]
 * ustar: 345 prefix[155]
 * GNU:   345 atime[12] 357 ctime[12] … 386 sparse[4×24] 482 isextended 483 realsize[12]
 */
import { encodeOctal, parseNumericAt, parseOctalAt } from './large-numbers.js';

export const BLOCK = 512;

/** Bytes of zero padding after a body of `size` bytes, up to the next block. */
export function blockPadding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

export type TarFormat = 'v7' | 'ustar' | 'gnu';

export interface RawHeader {
  /** name, with the ustar prefix joined on; raw bytes (decoded to text later). */
  name: Buffer;
  linkname: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** Old-GNU headers only; 0 when absent. */
  atime: number;
  ctime: number;
  typeflag: string;
  devmajor: number;
  devminor: number;
  format: TarFormat;
  /** Old-GNU sparse ('S'): the in-header map, the continuation flag and the real size. */
  gnuSparse?: { regions: Array<{ offset: number; length: number }>; isExtended: boolean; realSize: number };
}

/** Why a block is not a header; the caller turns it into an LcowError with the entry context. */
export class HeaderError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

const CHKSUM_START = 148;
const CHKSUM_END = 156;
/** What the checksum field adds to the sum: it is summed as eight spaces. */
const CHKSUM_AS_SPACES = 8 * 0x20;

/**
 * The header's unsigned byte sum, the checksum field read as eight spaces.
 * Read as 32-bit words when the block is aligned (always, from a reused read
 * buffer): two 16-bit lanes per word, a quarter of the loop iterations of a
 * byte loop — this sum runs once per member and was the reader's largest
 * cost on a many-file archive. The lanes cannot carry into each other:
 * 128 words × 2 bytes × 255 < 2^16 (the even and odd byte sums together).
 */
export function unsignedChecksum(block: Buffer): number {
  let sum = 0;
  if ((block.byteOffset & 3) === 0) {
    const words = wordsOf(block.buffer);
    let i = block.byteOffset >>> 2;
    const end = i + BLOCK / 4;
    // Four words a step, two lane sums: fewer loop iterations in V8's baseline tier, where this runs.
    let even = 0;
    let odd = 0;
    for (; i < end; i += 4) {
      const w0 = words[i]!;
      const w1 = words[i + 1]!;
      const w2 = words[i + 2]!;
      const w3 = words[i + 3]!;
      even += (w0 & 0x00ff00ff) + (w1 & 0x00ff00ff) + (w2 & 0x00ff00ff) + (w3 & 0x00ff00ff);
      odd += ((w0 >>> 8) & 0x00ff00ff) + ((w1 >>> 8) & 0x00ff00ff) + ((w2 >>> 8) & 0x00ff00ff) + ((w3 >>> 8) & 0x00ff00ff);
    }
    const lanes = even + odd;
    sum = (lanes & 0xffff) + Math.floor(lanes / 0x10000);
  } else {
    for (let i = 0; i < BLOCK; i++) sum += block[i]!;
  }
  for (let i = CHKSUM_START; i < CHKSUM_END; i++) sum -= block[i]!;
  return sum + CHKSUM_AS_SPACES;
}

/**
 * A 32-bit view of the whole buffer a header lies in, kept while headers come
 * from the same one (a reused read buffer): no view object per header. Held
 * weakly, so a large buffer parsed once is not kept alive by it.
 */
let viewed: WeakRef<Uint32Array<ArrayBufferLike>> | undefined;
function wordsOf(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  let words = viewed?.deref();
  if (words?.buffer !== buffer) {
    words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    viewed = new WeakRef(words);
  }
  return words;
}

/** The same sum over signed chars, as some historic tars computed it. */
function signedChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= CHKSUM_START && i < CHKSUM_END ? 0x20 : block[i]!;
    sum += b > 127 ? b - 256 : b;
  }
  return sum;
}

/** The stored checksum matches either sum (the signed one is computed only when the unsigned one does not match). */
export function checksumMatches(block: Buffer): boolean {
  // An all-NUL checksum field is not "0": real headers always carry one.
  if (block[CHKSUM_START] === 0 && block[CHKSUM_START + 1] === 0) return false;
  const stored = parseOctalAt(block, CHKSUM_START, CHKSUM_END - CHKSUM_START);
  if (stored === undefined) return false;
  return stored === unsignedChecksum(block) || stored === signedChecksum(block);
}

/** Bytes up to the first NUL (the whole field when there is none). */
export function cString(field: Buffer): Buffer {
  const nul = field.indexOf(0);
  return nul === -1 ? field : field.subarray(0, nul);
}

/** The text field of `length` bytes at `start`, up to its first NUL: one view, no intermediate subarray. */
function cStringAt(block: Buffer, start: number, length: number): Buffer {
  let end = start;
  const limit = start + length;
  while (end < limit && block[end] !== 0) end++;
  return block.subarray(start, end);
}

function num(block: Buffer, start: number, length: number, field: string): number {
  const v = parseNumericAt(block, start, length);
  if (v === undefined) throw new HeaderError(`invalid numeric field '${field}'`, field);
  return v;
}

// "ustar\0" then the version "00" (POSIX), or "ustar  \0" (old GNU), at byte 257.
function detectFormat(block: Buffer): TarFormat {
  if (block[257] !== 0x75 || block[258] !== 0x73 || block[259] !== 0x74 || block[260] !== 0x61 || block[261] !== 0x72) return 'v7';
  if (block[262] === 0) return 'ustar';
  if (block[262] === 0x20 && block[263] === 0x20 && block[264] === 0) return 'gnu';
  return 'v7';
}

/** Decode the GNU sparse array at `start` with `count` (offset[12], numbytes[12]) pairs; empty slots end it. */
export function decodeSparseArray(block: Buffer, start: number, count: number): Array<{ offset: number; length: number }> {
  const regions: Array<{ offset: number; length: number }> = [];
  for (let i = 0; i < count; i++) {
    const at = start + i * 24;
    if (block[at] === 0) break;
    regions.push({ offset: num(block, at, 12, 'sparse.offset'), length: num(block, at + 12, 12, 'sparse.numbytes') });
  }
  return regions;
}

const SLASH = Buffer.from('/');

export function decodeHeader(block: Buffer): RawHeader {
  if (!checksumMatches(block)) throw new HeaderError('header checksum mismatch', 'chksum');
  const format = detectFormat(block);
  let name = cStringAt(block, 0, 100);
  if (format === 'ustar' && block[345] !== 0) name = Buffer.concat([cStringAt(block, 345, 155), SLASH, name]);
  const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
  const header: RawHeader = {
    name,
    linkname: cStringAt(block, 157, 100),
    mode: num(block, 100, 8, 'mode') & 0o7777,
    uid: num(block, 108, 8, 'uid'),
    gid: num(block, 116, 8, 'gid'),
    size: num(block, 124, 12, 'size'),
    mtime: num(block, 136, 12, 'mtime'),
    atime: 0,
    ctime: 0,
    typeflag,
    devmajor: 0,
    devminor: 0,
    format,
  };
  if (format !== 'v7') {
    header.devmajor = num(block, 329, 8, 'devmajor');
    header.devminor = num(block, 337, 8, 'devminor');
  }
  if (format === 'gnu') {
    header.atime = num(block, 345, 12, 'atime');
    header.ctime = num(block, 357, 12, 'ctime');
    if (typeflag === 'S') {
      header.gnuSparse = {
        regions: decodeSparseArray(block, 386, 4),
        isExtended: block[482] !== 0,
        realSize: num(block, 483, 12, 'realsize'),
      };
    }
  }
  if (header.size < 0) throw new HeaderError('negative size', 'size');
  if (header.uid < 0 || header.gid < 0) throw new HeaderError('negative uid/gid', 'uid');
  if (header.devmajor < 0 || header.devminor < 0) throw new HeaderError('negative device number', 'devmajor');
  return header;
}

/** The ustar fields the writer sets; everything else stays zero. */
export interface UstarFields {
  /** At most 100 bytes of ASCII (the writer puts anything longer in PAX). */
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

export function encodeHeader(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(f.name, 0, 100, 'ascii');
  encodeOctal(b, 100, 8, f.mode);
  encodeOctal(b, 108, 8, f.uid);
  encodeOctal(b, 116, 8, f.gid);
  encodeOctal(b, 124, 12, f.size);
  encodeOctal(b, 136, 12, f.mtimeSec);
  b.write(f.typeflag, 156, 1, 'ascii');
  b.write(f.linkname, 157, 100, 'ascii');
  b.write('ustar\u000000', 257, 8, 'ascii');
  encodeOctal(b, 329, 8, f.devmajor);
  encodeOctal(b, 337, 8, f.devminor);
  // Six digits, NUL, space: the form GNU tar writes.
  b.write(unsignedChecksum(b).toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}
