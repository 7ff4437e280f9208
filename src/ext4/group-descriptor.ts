/**
 * Block group descriptors: 32 bytes each (no 64bit feature), packed in the
 * blocks right after the superblock. No uninit_bg / metadata_csum, so the
 * flags, exclude bitmap, bitmap checksums and itable_unused stay zero.
 */
import { GROUP_DESC_SIZE } from './constants.js';

export interface GroupDescriptor {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  usedDirsCount: number;
}

export function encodeGroupDescriptor(gd: GroupDescriptor, out: Buffer, offset: number): void {
  out.writeUInt32LE(gd.blockBitmap, offset + 0x0);
  out.writeUInt32LE(gd.inodeBitmap, offset + 0x4);
  out.writeUInt32LE(gd.inodeTable, offset + 0x8);
  out.writeUInt16LE(gd.freeBlocksCount, offset + 0xc);
  out.writeUInt16LE(gd.freeInodesCount, offset + 0xe);
  out.writeUInt16LE(gd.usedDirsCount, offset + 0x10);
}

export function decodeGroupDescriptor(b: Buffer, offset: number): GroupDescriptor {
  return {
    blockBitmap: b.readUInt32LE(offset + 0x0),
    inodeBitmap: b.readUInt32LE(offset + 0x4),
    inodeTable: b.readUInt32LE(offset + 0x8),
    freeBlocksCount: b.readUInt16LE(offset + 0xc),
    freeInodesCount: b.readUInt16LE(offset + 0xe),
    usedDirsCount: b.readUInt16LE(offset + 0x10),
  };
}

/** All descriptors, back to back, padded to whole blocks of `blockSize`. */
export function encodeGroupDescriptorTable(gds: GroupDescriptor[], blocks: number, blockSize: number): Buffer {
  const out = Buffer.alloc(blocks * blockSize);
  gds.forEach((gd, i) => encodeGroupDescriptor(gd, out, i * GROUP_DESC_SIZE));
  return out;
}
