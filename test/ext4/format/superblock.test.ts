/**
 * The superblock: what the writer encodes, read back by the reader's strict
 * decoder (fields the writer sets, and the format constants it derives);
 * the checksum fields stay zero; UUID helpers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLOCKS_PER_GROUP,
  BLOCK_SIZE,
  EXTRA_ISIZE,
  GROUP_DESC_SIZE,
  INODE_SIZE,
  MAX_INODES_PER_GROUP,
  SUPERBLOCK_SIZE,
} from '../../../src/ext4/format/constants.js';
import { INCOMPAT, RO_COMPAT } from '../../../src/ext4/format/features.js';
import { decodeSuperblock, encodeSuperblock, type Ext4Superblock, type SuperblockFields } from '../../../src/ext4/format/superblock.js';
import { formatUuid, uuidFromHash } from '../../../src/ext4/format/uuid.js';
import { RUNS, bytes, expectCode, u32 } from './helpers.js';

/** A disk large enough for the sample's 1,000,000 blocks. */
const VOLUME = 1_000_000 * BLOCK_SIZE;
const REFUSED_INCOMPAT = INCOMPAT.compression | INCOMPAT.journal_dev | INCOMPAT.dirdata | INCOMPAT.encrypt;

/** The fields the writer sets, as the reader decodes them (the three time stamps are one value). */
function fieldsOf(d: Ext4Superblock): SuperblockFields {
  expect(d.writeTime).toBe(d.mkfsTime);
  return {
    inodesCount: d.inodesCount,
    blocksCount: d.blocksCount,
    reservedBlocksCount: d.reservedBlocksCount,
    freeBlocksCount: d.freeBlocksCount,
    freeInodesCount: d.freeInodesCount,
    inodesPerGroup: d.inodesPerGroup,
    featureCompat: d.featureCompat,
    featureIncompat: d.featureIncompat,
    featureRoCompat: d.featureRoCompat,
    uuid: Buffer.from(d.uuid.replace(/-/g, ''), 'hex'),
    label: d.label,
    logGroupsPerFlex: d.logGroupsPerFlex,
    hashSeed: d.hashSeed,
    timestamp: d.mkfsTime,
  };
}

describe("superblock: encodeSuperblock through the reader's decodeSuperblock", () => {
  const sample = (): SuperblockFields => ({
    inodesCount: 4096,
    blocksCount: 1_000_000,
    reservedBlocksCount: 0,
    freeBlocksCount: 12345,
    freeInodesCount: 4000,
    inodesPerGroup: 128,
    featureCompat: 0x8 | 0x200,
    featureIncompat: 0x2 | 0x40 | 0x200,
    featureRoCompat: 0x1 | 0x2 | 0x8 | 0x20 | 0x40 | 0x1000,
    uuid: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
    label: 'layer',
    logGroupsPerFlex: 4,
    hashSeed: Buffer.from('ffeeddccbbaa99887766554433221100', 'hex'),
    timestamp: 0,
  });

  it('round-trips every field of the type and fixes the format constants', () => {
    const sb = sample();
    const b = encodeSuperblock(sb);
    expect(b.length).toBe(SUPERBLOCK_SIZE);
    const d = decodeSuperblock(b, VOLUME);
    expect(fieldsOf(d)).toEqual(sb);
    expect(d).toMatchObject({
      blockSize: BLOCK_SIZE,
      blocksPerGroup: BLOCKS_PER_GROUP,
      inodeSize: INODE_SIZE,
      descSize: GROUP_DESC_SIZE,
      firstDataBlock: 0,
      groupCount: Math.ceil(sb.blocksCount / BLOCKS_PER_GROUP),
      clean: true,
      readOnly: true,
    });
    expect(d.features).toEqual([
      'ext_attr',
      'sparse_super2',
      'filetype',
      'extent',
      'flex_bg',
      'sparse_super',
      'large_file',
      'huge_file',
      'dir_nlink',
      'extra_isize',
      'read_only',
    ]);
    expect(b.readUInt16LE(0x38)).toBe(0xef53); // s_magic
    expect(b.readUInt32LE(0x4c)).toBe(1); // s_rev_level: dynamic
    expect(b.readUInt16LE(0xfe)).toBe(GROUP_DESC_SIZE); // s_desc_size
    expect(b.readUInt16LE(0x15c)).toBe(EXTRA_ISIZE); // s_min_extra_isize
    expect(b.readUInt32LE(0x14)).toBe(0); // s_first_data_block
  });

  it('is checksum-free: no metadata_csum, s_checksum_type and s_checksum stay zero', () => {
    const b = encodeSuperblock(sample());
    expect(b.readUInt32LE(0x64) & 0x400).toBe(0); // RO_COMPAT_METADATA_CSUM
    expect(b.readUInt8(0x175)).toBe(0); // s_checksum_type
    expect(b.readUInt32LE(0x3fc)).toBe(0); // s_checksum
    expect(b.readUInt32LE(0x270)).toBe(0); // s_checksum_seed
  });

  it('round-trips arbitrary values (property)', () => {
    const arb = fc.record({
      inodesCount: u32,
      blocksCount: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      reservedBlocksCount: u32,
      freeBlocksCount: u32,
      freeInodesCount: u32,
      inodesPerGroup: fc.integer({ min: 1, max: MAX_INODES_PER_GROUP }),
      featureCompat: u32,
      // What the reader refuses (compression, journal_dev, dirdata, encrypt; bigalloc) has its own test.
      featureIncompat: u32.map((v) => (v & ~REFUSED_INCOMPAT) >>> 0),
      featureRoCompat: u32.map((v) => (v & ~RO_COMPAT.bigalloc) >>> 0),
      uuid: bytes(16),
      label: fc.string({ maxLength: 16, unit: 'grapheme-ascii' }).filter((s) => !s.includes('\0')),
      logGroupsPerFlex: fc.integer({ min: 0, max: 31 }),
      hashSeed: bytes(16),
      timestamp: u32,
    });
    fc.assert(
      fc.property(arb, (sb) => {
        expect(fieldsOf(decodeSuperblock(encodeSuperblock(sb), sb.blocksCount * BLOCK_SIZE))).toEqual(sb);
      }),
      RUNS,
    );
  });

  it('truncates the label to its 16-byte field', () => {
    const d = decodeSuperblock(encodeSuperblock({ ...sample(), label: 'a-very-long-volume-name' }), VOLUME);
    expect(d.label).toBe('a-very-long-volu');
  });

  it('the reader refuses what it cannot read: no magic (EBADIMAGE), features it does not implement (EUNSUPPORTED), a volume too small', () => {
    const b = encodeSuperblock(sample());
    expectCode(() => decodeSuperblock(Buffer.alloc(1024), VOLUME), 'EBADIMAGE');
    expectCode(() => decodeSuperblock(encodeSuperblock({ ...sample(), featureIncompat: INCOMPAT.encrypt }), VOLUME), 'EUNSUPPORTED');
    expectCode(() => decodeSuperblock(encodeSuperblock({ ...sample(), featureRoCompat: RO_COMPAT.bigalloc }), VOLUME), 'EUNSUPPORTED');
    expectCode(() => decodeSuperblock(b, 4096), 'EBADIMAGE');
  });

  it('formats UUIDs and derives version-5 UUIDs from a hash', () => {
    expect(formatUuid(Buffer.from('00112233445566778899aabbccddeeff', 'hex'))).toBe('00112233-4455-6677-8899-aabbccddeeff');
    const u = uuidFromHash(Buffer.alloc(32, 0xff));
    expect(u.length).toBe(16);
    expect(formatUuid(u)).toBe('ffffffff-ffff-5fff-bfff-ffffffffffff');
    expect(formatUuid(uuidFromHash(Buffer.alloc(20, 0)))).toBe('00000000-0000-5000-8000-000000000000');
  });
});
