/**
 * The region table (MS-VHDX 2.2.3): two identical 64 KiB copies at 192 KiB
 * and 256 KiB naming where the BAT and metadata regions are.
 *
 *   header: 0 "regi", 4 checksum (CRC-32C over 64 KiB), 8 entry count u32, 12 reserved
 *   entry (32 bytes, from 16): GUID, file offset u64, length u32, flags u32 (bit 0: required)
 */
import { checksumWithZeroedField, sealChecksum } from './crc32c.js';
import { REGION_TABLE_SIZE } from './constants.js';
import { guidFromBytes, guidToBytes } from './guid.js';

export interface RegionEntry {
  guid: string;
  fileOffset: number;
  length: number;
  required: boolean;
}

/** The spec caps a region table at 2047 entries. */
const MAX_ENTRIES = 2047;

export function encodeRegionTable(entries: RegionEntry[]): Buffer {
  const b = Buffer.alloc(REGION_TABLE_SIZE);
  b.write('regi', 0, 'latin1');
  b.writeUInt32LE(entries.length, 8);
  entries.forEach((e, i) => {
    const at = 16 + i * 32;
    guidToBytes(e.guid).copy(b, at);
    b.writeBigUInt64LE(BigInt(e.fileOffset), at + 16);
    b.writeUInt32LE(e.length, at + 24);
    b.writeUInt32LE(e.required ? 1 : 0, at + 28);
  });
  sealChecksum(b, 4);
  return b;
}

/** Decode one copy; `undefined` when its signature, checksum or count is bad. */
export function decodeRegionTable(b: Buffer): RegionEntry[] | undefined {
  if (b.length < REGION_TABLE_SIZE || b.toString('latin1', 0, 4) !== 'regi') return undefined;
  if (checksumWithZeroedField(b.subarray(0, REGION_TABLE_SIZE), 4) !== b.readUInt32LE(4)) return undefined;
  const count = b.readUInt32LE(8);
  if (count > MAX_ENTRIES) return undefined;
  const out: RegionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = 16 + i * 32;
    out.push({
      guid: guidFromBytes(b, at),
      fileOffset: Number(b.readBigUInt64LE(at + 16)),
      length: b.readUInt32LE(at + 24),
      required: (b.readUInt32LE(at + 28) & 1) !== 0,
    });
  }
  return out;
}
