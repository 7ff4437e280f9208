/**
 * The metadata region (MS-VHDX 2.6): a 64 KiB table at the region start,
 * then the items it points at. The table carries no checksum.
 *
 *   table header: 0 "metadata", 8 reserved u16, 10 entry count u16, 12 reserved[20]
 *   entry (32 bytes, from 32): item GUID, offset u32 (from region start, ≥ 64 KiB),
 *     length u32, flags u32 (bit 0 IsUser, bit 1 IsVirtualDisk, bit 2 IsRequired), reserved u32
 *
 * The items this code knows: file parameters (block size u32, flags u32:
 * bit 0 LeaveBlocksAllocated, bit 1 HasParent), virtual disk size u64,
 * page 83 data (a GUID), logical and physical sector size u32.
 */
import { LcowError } from '../../errors.js';
import { KiB, META_FILE_PARAMETERS, META_LOGICAL_SECTOR_SIZE, META_PAGE83_DATA, META_PHYSICAL_SECTOR_SIZE, META_VIRTUAL_DISK_SIZE } from './constants.js';
import { guidFromBytes, guidToBytes } from './guid.js';

export interface VhdxMetadata {
  blockSize: number;
  leaveBlocksAllocated: boolean;
  hasParent: boolean;
  virtualDiskSize: number;
  page83: string;
  logicalSectorSize: number;
  physicalSectorSize: number;
}

const TABLE_SIZE = 64 * KiB;
const FLAG_IS_VIRTUAL_DISK = 2;
const FLAG_IS_REQUIRED = 4;

/** Items a reader must understand (IsRequired); any other required item makes the file unreadable here. */
const KNOWN = new Set([META_FILE_PARAMETERS, META_VIRTUAL_DISK_SIZE, META_PAGE83_DATA, META_LOGICAL_SECTOR_SIZE, META_PHYSICAL_SECTOR_SIZE]);

/** Encode the table and items; the result is the first bytes of the metadata region. */
export function encodeMetadata(m: VhdxMetadata): Buffer {
  const items: Array<{ guid: string; data: Buffer; flags: number }> = [];
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  };
  const fp = Buffer.alloc(8);
  fp.writeUInt32LE(m.blockSize, 0);
  fp.writeUInt32LE((m.leaveBlocksAllocated ? 1 : 0) | (m.hasParent ? 2 : 0), 4);
  items.push({ guid: META_FILE_PARAMETERS, data: fp, flags: FLAG_IS_REQUIRED });
  const vs = Buffer.alloc(8);
  vs.writeBigUInt64LE(BigInt(m.virtualDiskSize));
  items.push({ guid: META_VIRTUAL_DISK_SIZE, data: vs, flags: FLAG_IS_VIRTUAL_DISK | FLAG_IS_REQUIRED });
  items.push({ guid: META_PAGE83_DATA, data: guidToBytes(m.page83), flags: FLAG_IS_VIRTUAL_DISK | FLAG_IS_REQUIRED });
  items.push({ guid: META_LOGICAL_SECTOR_SIZE, data: u32(m.logicalSectorSize), flags: FLAG_IS_VIRTUAL_DISK | FLAG_IS_REQUIRED });
  items.push({ guid: META_PHYSICAL_SECTOR_SIZE, data: u32(m.physicalSectorSize), flags: FLAG_IS_VIRTUAL_DISK | FLAG_IS_REQUIRED });

  const out = Buffer.alloc(TABLE_SIZE + items.length * 8);
  out.write('metadata', 0, 'latin1');
  out.writeUInt16LE(items.length, 10);
  let dataAt = TABLE_SIZE;
  items.forEach((it, i) => {
    const at = 32 + i * 32;
    guidToBytes(it.guid).copy(out, at);
    out.writeUInt32LE(dataAt, at + 16);
    out.writeUInt32LE(it.data.length, at + 20);
    out.writeUInt32LE(it.flags, at + 24);
    it.data.copy(out, dataAt);
    dataAt += it.data.length;
  });
  return out;
}

/** Decode the metadata region (`region` holds the whole region). Throws EBADIMAGE / EUNSUPPORTED. */
export function decodeMetadata(region: Buffer, file: string): VhdxMetadata {
  const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `VHDX metadata: ${why}`, { file });
  if (region.length < TABLE_SIZE || region.toString('latin1', 0, 8) !== 'metadata') throw bad('bad table signature');
  const count = region.readUInt16LE(10);
  if (count > 2047) throw bad(`entry count ${count} too large`);
  const items = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const at = 32 + i * 32;
    const guid = guidFromBytes(region, at);
    const offset = region.readUInt32LE(at + 16);
    const length = region.readUInt32LE(at + 20);
    const flags = region.readUInt32LE(at + 24);
    if (length === 0) continue;
    if (offset < TABLE_SIZE || offset + length > region.length) throw bad(`item ${guid} out of the region`);
    if (flags & FLAG_IS_REQUIRED && !KNOWN.has(guid)) {
      throw new LcowError('EUNSUPPORTED', `VHDX requires unknown metadata item ${guid} (differencing disk?)`, { file, guid });
    }
    items.set(guid, region.subarray(offset, offset + length));
  }
  const need = (g: string, len: number, name: string): Buffer => {
    const b = items.get(g);
    if (!b || b.length < len) throw bad(`missing ${name}`);
    return b;
  };
  const fp = need(META_FILE_PARAMETERS, 8, 'file parameters');
  const m: VhdxMetadata = {
    blockSize: fp.readUInt32LE(0),
    leaveBlocksAllocated: (fp.readUInt32LE(4) & 1) !== 0,
    hasParent: (fp.readUInt32LE(4) & 2) !== 0,
    virtualDiskSize: Number(need(META_VIRTUAL_DISK_SIZE, 8, 'virtual disk size').readBigUInt64LE(0)),
    page83: items.has(META_PAGE83_DATA) ? guidFromBytes(need(META_PAGE83_DATA, 16, 'page 83 data')) : '',
    logicalSectorSize: need(META_LOGICAL_SECTOR_SIZE, 4, 'logical sector size').readUInt32LE(0),
    physicalSectorSize: items.has(META_PHYSICAL_SECTOR_SIZE) ? need(META_PHYSICAL_SECTOR_SIZE, 4, 'physical sector size').readUInt32LE(0) : 4096,
  };
  // The spec limits: block size 1–256 MiB and a power of two; sector sizes 512 or 4096; size ≤ 64 TiB.
  const pow2 = (v: number): boolean => v > 0 && (v & (v - 1)) === 0;
  if (!pow2(m.blockSize) || m.blockSize < 1024 * 1024 || m.blockSize > 256 * 1024 * 1024) throw bad(`block size ${m.blockSize}`);
  if (m.logicalSectorSize !== 512 && m.logicalSectorSize !== 4096) throw bad(`logical sector size ${m.logicalSectorSize}`);
  if (m.virtualDiskSize <= 0 || m.virtualDiskSize > 64 * 1024 ** 4 || m.virtualDiskSize % m.logicalSectorSize !== 0) {
    throw bad(`virtual disk size ${m.virtualDiskSize}`);
  }
  if (m.hasParent) throw new LcowError('EUNSUPPORTED', 'differencing VHDX (has a parent) is not supported', { file });
  return m;
}
