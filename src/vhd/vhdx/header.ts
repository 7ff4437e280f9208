/**
 * The VHDX header (MS-VHDX 2.2.2): two copies, 4 KiB each, at 64 KiB and
 * 128 KiB. The valid copy with the larger sequence number is current; a
 * writer updates the non-current copy, so a torn write leaves the other.
 *
 *   0  signature "head"      4  checksum (CRC-32C over 4 KiB, field zeroed)
 *   8  sequence number u64   16 file write GUID   32 data write GUID
 *  48  log GUID (zero: no log to replay)           64 log version u16 (0)
 *  66  version u16 (1)      68 log length u32     72 log offset u64
 */
import { checksumWithZeroedField, sealChecksum } from './crc32c.js';
import { HEADER_SIZE } from './constants.js';
import { guidFromBytes, guidToBytes } from './guid.js';

export interface VhdxHeader {
  sequenceNumber: bigint;
  fileWriteGuid: string;
  dataWriteGuid: string;
  logGuid: string;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
}

export function encodeHeader(h: VhdxHeader): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  b.write('head', 0, 'latin1');
  b.writeBigUInt64LE(h.sequenceNumber, 8);
  guidToBytes(h.fileWriteGuid).copy(b, 16);
  guidToBytes(h.dataWriteGuid).copy(b, 32);
  guidToBytes(h.logGuid).copy(b, 48);
  b.writeUInt16LE(h.logVersion, 64);
  b.writeUInt16LE(h.version, 66);
  b.writeUInt32LE(h.logLength, 68);
  b.writeBigUInt64LE(BigInt(h.logOffset), 72);
  sealChecksum(b, 4);
  return b;
}

/** Decode one header copy; `undefined` when its signature or checksum is wrong (the other copy may be good). */
export function decodeHeader(b: Buffer): VhdxHeader | undefined {
  if (b.length < HEADER_SIZE || b.toString('latin1', 0, 4) !== 'head') return undefined;
  if (checksumWithZeroedField(b.subarray(0, HEADER_SIZE), 4) !== b.readUInt32LE(4)) return undefined;
  return {
    sequenceNumber: b.readBigUInt64LE(8),
    fileWriteGuid: guidFromBytes(b, 16),
    dataWriteGuid: guidFromBytes(b, 32),
    logGuid: guidFromBytes(b, 48),
    logVersion: b.readUInt16LE(64),
    version: b.readUInt16LE(66),
    logLength: b.readUInt32LE(68),
    logOffset: Number(b.readBigUInt64LE(72)),
  };
}
