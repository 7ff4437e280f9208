/**
 * The inode: the writer's encoder round-trips through the decoder the
 * reader uses (fields the writer sets), and the bytes sit at the offsets of
 * struct ext4_inode. Device numbers: the kernel's old and new encodings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXTRA_ISIZE, INLINE_XATTR_SPACE, INODE_SIZE } from '../../../src/ext4/format/constants.js';
import {
  INODE_FLAGS,
  MODE_TYPE,
  blocks512,
  decodeDevice,
  decodeInode,
  encodeDevice,
  encodeInode,
  kindOfMode,
  type Inode,
  type InodeFields,
} from '../../../src/ext4/format/inode.js';
import { MAX_EXT4_SECONDS, MIN_EXT4_SECONDS, encodeTime } from '../../../src/ext4/format/timestamps.js';
import { RUNS, arbTimestamp, bytes, u16, u32 } from './helpers.js';

/** The fields the writer sets, as the reader decodes them. */
function fieldsOf(d: Inode): InodeFields {
  const { mode, uid, gid, size, linksCount, blocks, flags, iBlock, fileAcl, atime, mtime, ctime, crtime, xattrArea } = d;
  return { mode, uid, gid, size, linksCount, blocks, flags, iBlock, fileAcl, atime, mtime, ctime, crtime: crtime!, xattrArea };
}

describe("inode: encodeInode through the reader's decodeInode", () => {
  const baseInode = (): InodeFields => ({
    mode: 0o100644,
    uid: 0,
    gid: 0,
    size: 0,
    linksCount: 1,
    blocks: 0,
    flags: 0x80000,
    iBlock: Buffer.alloc(60),
    fileAcl: 0,
    atime: { sec: 0, nsec: 0 },
    mtime: { sec: 0, nsec: 0 },
    ctime: { sec: 0, nsec: 0 },
    crtime: { sec: 0, nsec: 0 },
    xattrArea: Buffer.alloc(INLINE_XATTR_SPACE),
  });

  it('round-trips large ids, sizes past 4 GiB, 48-bit block counts and 34-bit times with nanoseconds', () => {
    const iBlock = Buffer.alloc(60);
    for (let i = 0; i < 60; i++) iBlock[i] = i * 7 + 1;
    const inline = Buffer.alloc(INLINE_XATTR_SPACE);
    for (let i = 0; i < inline.length; i++) inline[i] = 255 - i;
    const f: InodeFields = {
      ...baseInode(),
      mode: 0o104755,
      uid: 0xfffffffe,
      gid: 100_000,
      size: 5 * 2 ** 30 + 123,
      linksCount: 65000,
      blocks: 2 ** 40 + 17,
      flags: 0x80080000,
      iBlock,
      fileAcl: 0xfedcba98,
      atime: { sec: -1, nsec: 250_000_000 },
      mtime: { sec: 2 ** 33 + 12345, nsec: 123_456_789 },
      ctime: { sec: MAX_EXT4_SECONDS, nsec: 999_999_999 },
      crtime: { sec: MIN_EXT4_SECONDS, nsec: 1 },
      xattrArea: inline,
    };
    const b = Buffer.alloc(INODE_SIZE);
    encodeInode(f, b);
    expect(fieldsOf(decodeInode(b, 0, true))).toEqual(f);

    // Spot-check the on-disk layout (ext4_inode offsets).
    expect(b.readUInt16LE(0x0)).toBe(0o104755);
    expect(b.readUInt16LE(0x2)).toBe(0xfffe); // i_uid (low)
    expect(b.readUInt16LE(0x78)).toBe(0xffff); // l_i_uid_high
    expect(b.readUInt16LE(0x18)).toBe(100_000 & 0xffff);
    expect(b.readUInt16LE(0x7a)).toBe(1); // l_i_gid_high
    expect(b.readUInt32LE(0x4)).toBe(2 ** 30 + 123); // i_size_lo
    expect(b.readUInt32LE(0x6c)).toBe(1); // i_size_high
    expect(b.readUInt32LE(0x1c)).toBe(17); // i_blocks_lo
    expect(b.readUInt16LE(0x74)).toBe(2 ** 8); // l_i_blocks_high
    expect(b.readUInt16LE(0x80)).toBe(EXTRA_ISIZE); // i_extra_isize
    expect(b.readUInt32LE(0x10)).toBe(12345); // i_mtime
    expect(b.readUInt32LE(0x88)).toBe(((123_456_789 << 2) | 2) >>> 0); // i_mtime_extra: epoch 2
    expect(b.readUInt32LE(0x08)).toBe(0xffffffff); // i_atime = -1
    expect(b.readUInt32LE(0x8c)).toBe(250_000_000 << 2); // i_atime_extra: epoch 0
    expect(b.subarray(0x28, 0x28 + 60)).toEqual(iBlock);
    expect(b.subarray(128 + EXTRA_ISIZE)).toEqual(inline);
  });

  it('round-trips arbitrary field values (property)', () => {
    const arb = fc.record({
      mode: u16,
      uid: u32,
      gid: u32,
      size: fc.integer({ min: 0, max: 2 ** 52 }),
      linksCount: u16,
      blocks: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      flags: u32,
      iBlock: bytes(60),
      fileAcl: u32,
      atime: arbTimestamp,
      mtime: arbTimestamp,
      ctime: arbTimestamp,
      crtime: arbTimestamp,
      xattrArea: bytes(INLINE_XATTR_SPACE),
    });
    fc.assert(
      fc.property(arb, (f) => {
        const b = Buffer.alloc(INODE_SIZE);
        encodeInode(f, b);
        const d = decodeInode(b, 7, true);
        expect(fieldsOf(d)).toEqual(f);
        expect(d).toMatchObject({ ino: 7, extraIsize: EXTRA_ISIZE, blocksInFsUnits: (f.flags & INODE_FLAGS.huge_file) !== 0 });
      }),
      RUNS,
    );
  });

  it('encodes at an offset inside an inode-table block and touches nothing else', () => {
    const table = Buffer.alloc(INODE_SIZE * 3, 0);
    const f = { ...baseInode(), uid: 1000, size: 42, mtime: { sec: 1_700_000_000, nsec: 5 } };
    encodeInode(f, table, INODE_SIZE);
    expect(table.subarray(0, INODE_SIZE).every((x) => x === 0)).toBe(true);
    expect(table.subarray(2 * INODE_SIZE).every((x) => x === 0)).toBe(true);
    expect(fieldsOf(decodeInode(table.subarray(INODE_SIZE, 2 * INODE_SIZE), 2, true))).toEqual(f);
  });

  it('writes each time word as encodeTime does, on both sides of the 2^31 and nanosecond boundaries, through a shared view too', () => {
    const times = [
      { sec: 0, nsec: 0 },
      { sec: 1_700_000_000, nsec: 2 ** 29 }, // nsec << 2 sets the sign bit of an int32
      { sec: 2 ** 31 - 1, nsec: 999_999_999 },
      { sec: 2 ** 31, nsec: 1 },
      { sec: -1, nsec: 5 },
      { sec: 1.5, nsec: 0.5 }, // not whole: the general path truncates
      { sec: 7, nsec: 1e9 }, // out of range: the general path drops it
    ];
    const table = Buffer.alloc(INODE_SIZE * times.length);
    const view = new DataView(table.buffer, table.byteOffset, table.length);
    times.forEach((t, i) => {
      const f = { ...baseInode(), atime: t, mtime: t, ctime: t, crtime: t };
      const alone = Buffer.alloc(INODE_SIZE);
      encodeInode(f, alone);
      encodeInode(f, table, i * INODE_SIZE, view);
      expect(table.subarray(i * INODE_SIZE, (i + 1) * INODE_SIZE)).toEqual(alone);
      const want = encodeTime(t);
      for (const [lo, extra] of [
        [0x08, 0x8c],
        [0x0c, 0x84],
        [0x10, 0x88],
        [0x90, 0x94],
      ] as const) {
        expect([alone.readUInt32LE(lo), alone.readUInt32LE(extra)], JSON.stringify(t)).toEqual([want.lo, want.extra]);
      }
    });
  });

  it('without inline xattrs the in-inode area decodes as zeros', () => {
    const f = { ...baseInode(), xattrArea: undefined };
    const b = Buffer.alloc(INODE_SIZE);
    encodeInode(f, b);
    const d = fieldsOf(decodeInode(b, 2, true));
    expect(d.xattrArea).toEqual(Buffer.alloc(INLINE_XATTR_SPACE));
    expect({ ...d, xattrArea: undefined }).toEqual(f);
  });

  it('reads the high half of i_blocks only on a huge_file volume, and file-system units with the inode flag', () => {
    const b = Buffer.alloc(INODE_SIZE);
    encodeInode({ ...baseInode(), blocks: 2 ** 32 + 8, flags: INODE_FLAGS.extents | INODE_FLAGS.huge_file }, b);
    expect(decodeInode(b, 2, false).blocks).toBe(8);
    const huge = decodeInode(b, 2, true);
    expect(huge.blocks).toBe(2 ** 32 + 8);
    expect(blocks512(huge, 4096)).toBe((2 ** 32 + 8) * 8);
  });

  it('a 128-byte inode has no extra fields: seconds only, no crtime, no xattr area', () => {
    const b = Buffer.alloc(INODE_SIZE);
    encodeInode({ ...baseInode(), mtime: { sec: 2 ** 33 + 5, nsec: 9 } }, b);
    const small = decodeInode(b.subarray(0, 128), 3, true);
    expect(small.mtime).toEqual({ sec: 5, nsec: 0 });
    expect(small.crtime).toBeUndefined();
    expect(small.xattrArea.length).toBe(0);
  });

  it('kindOfMode reads the file-type bits MODE_TYPE writes', () => {
    for (const [kind, bits] of Object.entries(MODE_TYPE)) expect(kindOfMode(bits | 0o7777)).toBe(kind);
    expect(kindOfMode(0o7777)).toBeUndefined();
  });
});

describe('device numbers in i_block (encodeDevice / decodeDevice)', () => {
  it.each([
    [0, 0],
    [1, 3],
    [8, 1],
    [255, 255],
  ])('uses the old 16-bit encoding in i_block[0] for %i:%i', (major, minor) => {
    const b = encodeDevice(major, minor);
    expect(b.length).toBe(60);
    expect(b.readUInt32LE(0)).toBe((major << 8) | minor);
    expect(b.subarray(4).every((x) => x === 0)).toBe(true);
    expect(decodeDevice(b)).toEqual({ major, minor });
  });

  it.each([
    // new_encode_dev: (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)
    { major: 256, minor: 0, word: 0x00010000 },
    { major: 8, minor: 256, word: 0x00100800 },
    { major: 0x123, minor: 0x45678, word: 0x45612378 },
    { major: 0xfff, minor: 0xfffff, word: 0xffffffff },
    { major: 0, minor: 0xfffff, word: 0xfff000ff },
    { major: 0xfff, minor: 0, word: 0x000fff00 },
  ])('uses the new encoding in i_block[1] for $major:$minor', ({ major, minor, word }) => {
    const b = encodeDevice(major, minor);
    expect(b.readUInt32LE(0)).toBe(0);
    expect(b.readUInt32LE(4)).toBe(word);
    expect(b.subarray(8).every((x) => x === 0)).toBe(true);
    expect(decodeDevice(b)).toEqual({ major, minor });
  });

  it('round-trips every major up to 0xfff and minor up to 0xfffff (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfff }), fc.integer({ min: 0, max: 0xfffff }), (major, minor) => {
        const b = encodeDevice(major, minor);
        const old = major < 256 && minor < 256;
        expect(b.readUInt32LE(old ? 4 : 0)).toBe(0);
        expect(decodeDevice(b)).toEqual({ major, minor });
      }),
      RUNS,
    );
  });
});
