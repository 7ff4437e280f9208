import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, GROUP_DESC_SIZE } from '../../../src/ext4/format/constants.js';
import { decodeGroupDescriptor, encodeGroupDescriptor, encodeGroupDescriptorTable, type GroupDescriptor } from '../../../src/ext4/format/group-descriptor.js';
import { u16, u32 } from './helpers.js';

describe("group descriptors: the writer's 32-byte table through the reader's decoder", () => {
  const arbGd: fc.Arbitrary<GroupDescriptor> = fc.record({
    blockBitmap: u32,
    inodeBitmap: u32,
    inodeTable: u32,
    freeBlocksCount: u16,
    freeInodesCount: u16,
    usedDirsCount: u16,
    flags: u16,
  });

  it('writes ext4_group_desc fields at their offsets, the rest zero', () => {
    const b = Buffer.alloc(GROUP_DESC_SIZE);
    encodeGroupDescriptor(
      {
        blockBitmap: 0x11111111,
        inodeBitmap: 0x22222222,
        inodeTable: 0x33333333,
        freeBlocksCount: 0x4444,
        freeInodesCount: 0x5555,
        usedDirsCount: 0x6666,
        flags: 0x0004,
      },
      b,
      0,
    );
    expect(b.toString('hex')).toBe('1111111122222222333333334444555566660400' + '00'.repeat(GROUP_DESC_SIZE - 20));
  });

  it('round-trips a table of descriptors padded to whole blocks (property)', () => {
    fc.assert(
      fc.property(fc.array(arbGd, { minLength: 1, maxLength: 300 }), (gds) => {
        const blocks = Math.ceil((gds.length * GROUP_DESC_SIZE) / BLOCK_SIZE);
        const table = encodeGroupDescriptorTable(gds, blocks, BLOCK_SIZE);
        expect(table.length).toBe(blocks * BLOCK_SIZE);
        expect(gds.map((_, i) => decodeGroupDescriptor(table, i * GROUP_DESC_SIZE, GROUP_DESC_SIZE))).toEqual(gds);
        expect(table.subarray(gds.length * GROUP_DESC_SIZE).every((x) => x === 0)).toBe(true);
        for (let i = 0; i < gds.length; i++) {
          expect(table.subarray(i * GROUP_DESC_SIZE + 20, (i + 1) * GROUP_DESC_SIZE).every((x) => x === 0)).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a 64-byte descriptor (64bit feature) adds the high halves', () => {
    const b = Buffer.alloc(64);
    encodeGroupDescriptor({ blockBitmap: 1, inodeBitmap: 2, inodeTable: 3, freeBlocksCount: 4, freeInodesCount: 5, usedDirsCount: 6, flags: 0 }, b, 0);
    b.writeUInt32LE(1, 0x28); // bg_inode_table_hi
    b.writeUInt16LE(2, 0x2c); // bg_free_blocks_count_hi
    expect(decodeGroupDescriptor(b, 0, 64)).toMatchObject({ inodeTable: 2 ** 32 + 3, freeBlocksCount: 2 * 0x10000 + 4 });
    expect(decodeGroupDescriptor(b, 0, 32)).toMatchObject({ inodeTable: 3, freeBlocksCount: 4 });
  });
});
