/**
 * The fixed-VHD footer: 512 big-endian bytes appended after the raw disk
 * data. Hyper-V attaches such a file as a disk, and `qemu-img -f vpc` reads
 * it. The creator is stamped "win " (Hyper-V) so readers take the size from
 * current_size rather than from the CHS geometry, which rounds down; the
 * geometry is still computed with the VHD specification's algorithm (the
 * reference writes zero there).
 */
import { LcowError } from '../errors.js';

export const VHD_FOOTER_SIZE = 512;
const COOKIE = 'conectix';
const FEATURES_RESERVED = 0x2;
const FORMAT_VERSION = 0x00010000;
const CREATOR_APP = 'win ';
const CREATOR_VERSION = 0x000a0000;
const CREATOR_HOST_OS = 0x5769326b; // "Wi2k"
export const VHD_DISK_TYPE_FIXED = 2;

export interface VhdFooter {
  cookie: string;
  features: number;
  dataOffset: bigint;
  currentSize: number;
  originalSize: number;
  diskType: number;
  checksum: number;
  uniqueId: Buffer;
  geometry: { cylinders: number; heads: number; sectors: number };
}

/** CHS geometry from the VHD specification (appendix "CHS Calculation"). */
export function vhdGeometry(diskSizeBytes: number): { cylinders: number; heads: number; sectors: number } {
  let totalSectors = Math.floor(diskSizeBytes / 512);
  if (totalSectors > 65535 * 16 * 255) totalSectors = 65535 * 16 * 255;
  let sectors: number;
  let heads: number;
  let cylTimesHeads: number;
  if (totalSectors >= 65535 * 16 * 63) {
    sectors = 255;
    heads = 16;
    cylTimesHeads = Math.floor(totalSectors / sectors);
  } else {
    sectors = 17;
    cylTimesHeads = Math.floor(totalSectors / sectors);
    heads = Math.max(4, Math.floor((cylTimesHeads + 1023) / 1024));
    if (cylTimesHeads >= heads * 1024 || heads > 16) {
      sectors = 31;
      heads = 16;
      cylTimesHeads = Math.floor(totalSectors / sectors);
    }
    if (cylTimesHeads >= heads * 1024) {
      sectors = 63;
      heads = 16;
      cylTimesHeads = Math.floor(totalSectors / sectors);
    }
  }
  return { cylinders: Math.floor(cylTimesHeads / heads), heads, sectors };
}

/** One's complement of the byte sum, with the checksum field counted as zero. */
function footerChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < VHD_FOOTER_SIZE; i++) if (i < 64 || i >= 68) sum += b[i] ?? 0;
  return ~sum >>> 0;
}

/** A 512-byte fixed-disk footer for `diskSizeBytes` of data (a multiple of 512). */
export function encodeVhdFooter(diskSizeBytes: number, uniqueId: Buffer): Buffer {
  if (!Number.isSafeInteger(diskSizeBytes) || diskSizeBytes <= 0 || diskSizeBytes % 512 !== 0) {
    throw new LcowError('EINVAL', 'VHD disk size must be a positive multiple of 512', { diskSizeBytes });
  }
  if (uniqueId.length !== 16) throw new LcowError('EINVAL', 'VHD unique id must be 16 bytes', { length: uniqueId.length });
  const b = Buffer.alloc(VHD_FOOTER_SIZE);
  b.write(COOKIE, 0, 'latin1');
  b.writeUInt32BE(FEATURES_RESERVED, 8);
  b.writeUInt32BE(FORMAT_VERSION, 12);
  b.writeBigUInt64BE(0xffffffffffffffffn, 16); // fixed disks have no dynamic header
  b.writeUInt32BE(0, 24); // timestamp: 0 keeps the output deterministic
  b.write(CREATOR_APP, 28, 'latin1');
  b.writeUInt32BE(CREATOR_VERSION, 32);
  b.writeUInt32BE(CREATOR_HOST_OS, 36);
  b.writeBigUInt64BE(BigInt(diskSizeBytes), 40);
  b.writeBigUInt64BE(BigInt(diskSizeBytes), 48);
  const g = vhdGeometry(diskSizeBytes);
  b.writeUInt16BE(g.cylinders, 56);
  b.writeUInt8(g.heads, 58);
  b.writeUInt8(g.sectors, 59);
  b.writeUInt32BE(VHD_DISK_TYPE_FIXED, 60);
  uniqueId.copy(b, 68);
  b.writeUInt32BE(footerChecksum(b), 64);
  return b;
}

/** Parse and validate (cookie and checksum) a footer; LcowError('EBADIMAGE') otherwise. */
export function parseVhdFooter(buf: Buffer): VhdFooter {
  if (buf.length < VHD_FOOTER_SIZE) throw new LcowError('EBADIMAGE', 'VHD footer shorter than 512 bytes', { length: buf.length });
  const b = buf.subarray(buf.length - VHD_FOOTER_SIZE);
  const cookie = b.toString('latin1', 0, 8);
  if (cookie !== COOKIE) throw new LcowError('EBADIMAGE', 'not a VHD footer (bad cookie)', { cookie });
  const checksum = b.readUInt32BE(64);
  const expected = footerChecksum(b);
  if (checksum !== expected) throw new LcowError('EBADIMAGE', 'VHD footer checksum mismatch', { checksum, expected });
  return {
    cookie,
    features: b.readUInt32BE(8),
    dataOffset: b.readBigUInt64BE(16),
    originalSize: Number(b.readBigUInt64BE(40)),
    currentSize: Number(b.readBigUInt64BE(48)),
    geometry: { cylinders: b.readUInt16BE(56), heads: b.readUInt8(58), sectors: b.readUInt8(59) },
    diskType: b.readUInt32BE(60),
    checksum,
    uniqueId: Buffer.from(b.subarray(68, 84)),
  };
}
