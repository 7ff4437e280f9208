/**
 * The ext4 on-disk structures on their own, one describe per structure:
 * encoders and decoders are checked against each other (small, bounded
 * fast-check properties), against hand-computed bytes from the ext4 format
 * documentation, and against the promises their doc comments make.
 *
 * Deliberately imports only the structure modules — not writer.ts or
 * namespace.ts — so these tests stay independent of the writer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GroupBitmaps } from '../../../src/ext4/bitmaps.js';
import {
  BLOCKS_PER_GROUP,
  BLOCK_SIZE,
  EXTRA_ISIZE,
  GROUP_DESC_SIZE,
  INLINE_XATTR_SPACE,
  INODES_PER_BLOCK,
  INODE_SIZE,
  MAX_EXTENT_LEN,
  MAX_INODES_PER_GROUP,
  SUPERBLOCK_SIZE,
} from '../../../src/ext4/constants.js';
import { decodeDirectory, direntSize, directoryBlockCount, encodeDirectory, type DirectoryEntry } from '../../../src/ext4/directory.js';
import {
  EXTENT_MAGIC,
  NODE_CAPACITY,
  ROOT_CAPACITY,
  buildExtentTree,
  decodeExtentNode,
  extentTreeBlockCount,
  splitLongExtents,
  type Extent,
} from '../../../src/ext4/extents.js';
import type { Timestamp } from '../../../src/ext4/entry.js';
import { computeGeometry, reservedGdtBlocks } from '../../../src/ext4/geometry.js';
import { decodeGroupDescriptor, encodeGroupDescriptor, encodeGroupDescriptorTable, type GroupDescriptor } from '../../../src/ext4/group-descriptor.js';
import { decodeDeviceIBlock, decodeInode, encodeDeviceIBlock, encodeInode, type InodeFields } from '../../../src/ext4/inode.js';
import { PackedCursor, regionsToBlockRanges } from '../../../src/ext4/sparse-ranges.js';
import { decodeSuperblock, encodeSuperblock, formatUuid, uuidFromHash, type Superblock } from '../../../src/ext4/superblock.js';
import { MAX_EXT4_SECONDS, MIN_EXT4_SECONDS, decodeTime, encodeTime } from '../../../src/ext4/timestamps.js';
import {
  XATTR_MAGIC,
  decodeXattrs,
  joinXattrName,
  layoutXattrs,
  splitXattrName,
  xattrBlockHash,
  xattrEntryHash,
  type XattrRecord,
} from '../../../src/ext4/xattrs.js';

/** Bounded property runs: these must stay fast (the whole file runs in a few seconds). */
const RUNS = { numRuns: 200 } as const;

/** Assert that `fn` throws an error whose `.code` is `code`; returns the error. */
function expectCode(fn: () => unknown, code: string): Error & { code: string; context: Record<string, unknown> } {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected an error with code ${code}`).toBeInstanceOf(Error);
  expect((caught as { code?: unknown }).code).toBe(code);
  return caught as Error & { code: string; context: Record<string, unknown> };
}

const arbTimestamp: fc.Arbitrary<Timestamp> = fc.record({
  sec: fc.integer({ min: MIN_EXT4_SECONDS, max: MAX_EXT4_SECONDS }),
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
});

const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));

// ---------------------------------------------------------------------------

describe('timestamps (encodeTime / decodeTime)', () => {
  it('exports the 34-bit range 1901-12-13 .. 2446-05-10', () => {
    expect(MIN_EXT4_SECONDS).toBe(-(2 ** 31));
    expect(MAX_EXT4_SECONDS).toBe(2 ** 34 - 2 ** 31 - 1);
    expect(new Date(MIN_EXT4_SECONDS * 1000).toISOString()).toBe('1901-12-13T20:45:52.000Z');
    expect(new Date(MAX_EXT4_SECONDS * 1000).toISOString().slice(0, 10)).toBe('2446-05-10');
  });

  it('round-trips every representable second with every nanosecond value', () => {
    fc.assert(
      fc.property(arbTimestamp, (t) => {
        const e = encodeTime(t);
        expect(Number.isInteger(e.lo) && e.lo >= 0 && e.lo < 2 ** 32).toBe(true);
        expect(Number.isInteger(e.extra) && e.extra >= 0 && e.extra < 2 ** 32).toBe(true);
        // Upper 30 bits: nanoseconds; low 2 bits: epoch, so sec = (s32)lo + epoch * 2^32.
        expect(e.extra >>> 2).toBe(t.nsec);
        expect((e.lo | 0) + (e.extra & 3) * 2 ** 32).toBe(t.sec);
        expect(decodeTime(e.lo, e.extra)).toEqual(t);
      }),
      RUNS,
    );
  });

  it('round-trips the boundaries of each epoch', () => {
    const secs = [MIN_EXT4_SECONDS, -1, 0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 2 ** 31, 2 ** 33, 3 * 2 ** 32, MAX_EXT4_SECONDS];
    for (const sec of secs) {
      for (const nsec of [0, 1, 250_000_000, 999_999_999]) {
        const e = encodeTime({ sec, nsec });
        expect(decodeTime(e.lo, e.extra), `${sec}.${nsec}`).toEqual({ sec, nsec });
      }
    }
  });

  // Hand-computed words (kernel: extra = ((sec - (s32)sec) >> 32) & 3 | nsec << 2).
  it.each([
    { name: 'pre-1970 with nanoseconds (-0.75 s = -1 s + 250 ms)', sec: -1, nsec: 250_000_000, lo: 0xffffffff, extra: 250_000_000 * 4 },
    { name: 'the oldest time', sec: MIN_EXT4_SECONDS, nsec: 0, lo: 0x80000000, extra: 0 },
    { name: 'the epoch', sec: 0, nsec: 0, lo: 0, extra: 0 },
    { name: 'the last second of signed 32-bit time', sec: 2 ** 31 - 1, nsec: 0, lo: 0x7fffffff, extra: 0 },
    { name: '2038 (2^31)', sec: 2 ** 31, nsec: 0, lo: 0x80000000, extra: 1 },
    { name: '2^32 + 5', sec: 2 ** 32 + 5, nsec: 0, lo: 5, extra: 1 },
    { name: '2^33 with 1 ns', sec: 2 ** 33, nsec: 1, lo: 0, extra: 2 | (1 << 2) },
    { name: 'the newest time', sec: MAX_EXT4_SECONDS, nsec: 999_999_999, lo: 0x7fffffff, extra: 3 + 999_999_999 * 4 },
  ])('encodes $name', ({ sec, nsec, lo, extra }) => {
    expect(encodeTime({ sec, nsec })).toEqual({ lo, extra });
    expect(decodeTime(lo, extra)).toEqual({ sec, nsec });
  });

  it('decodes the words mke2fs 1.47 writes for 1969-12-31 23:59:58 (lo 0xfffffffe, extra 0)', () => {
    // mke2fs -d does not store nanoseconds (its extra word is 0), so the .25 s is not on disk.
    expect(decodeTime(0xfffffffe, 0)).toEqual({ sec: -2, nsec: 0 });
  });

  it('decodes epoch 3 with a negative low word as the kernel does (2446, not 1969)', () => {
    // Old kernels wrote pre-1970 times with epoch 3; the current kernel reads that as 2446.
    expect(decodeTime(0xffffffff, 3).sec).toBe(3 * 2 ** 32 - 1);
  });

  it('clamps out-of-range seconds and rejects bad nanoseconds', () => {
    const rt = (t: Timestamp) => {
      const e = encodeTime(t);
      return decodeTime(e.lo, e.extra);
    };
    expect(rt({ sec: MIN_EXT4_SECONDS - 1, nsec: 5 })).toEqual({ sec: MIN_EXT4_SECONDS, nsec: 0 });
    expect(rt({ sec: -1e12, nsec: 5 })).toEqual({ sec: MIN_EXT4_SECONDS, nsec: 0 });
    expect(rt({ sec: MAX_EXT4_SECONDS + 1, nsec: 5 })).toEqual({ sec: MAX_EXT4_SECONDS, nsec: 999_999_999 });
    expect(rt({ sec: 1e12, nsec: 0 })).toEqual({ sec: MAX_EXT4_SECONDS, nsec: 999_999_999 });
    expect(rt({ sec: 10, nsec: -1 })).toEqual({ sec: 10, nsec: 0 });
    expect(rt({ sec: 10, nsec: 1e9 })).toEqual({ sec: 10, nsec: 0 });
    expect(rt({ sec: 10, nsec: Number.NaN })).toEqual({ sec: 10, nsec: 0 });
    expect(rt({ sec: 10.9, nsec: 7.5 })).toEqual({ sec: 10, nsec: 7 });
  });
});

// ---------------------------------------------------------------------------

describe('inode (encodeInode / decodeInode)', () => {
  const baseInode = (): InodeFields => ({
    mode: 0o100644,
    uid: 0,
    gid: 0,
    size: 0,
    linksCount: 1,
    blocks512: 0,
    flags: 0x80000,
    iBlock: Buffer.alloc(60),
    fileAcl: 0,
    atime: { sec: 0, nsec: 0 },
    mtime: { sec: 0, nsec: 0 },
    ctime: { sec: 0, nsec: 0 },
    crtime: { sec: 0, nsec: 0 },
    inlineXattrs: Buffer.alloc(INLINE_XATTR_SPACE),
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
      blocks512: 2 ** 40 + 17,
      flags: 0x80080000,
      iBlock,
      fileAcl: 0xfedcba98,
      atime: { sec: -1, nsec: 250_000_000 },
      mtime: { sec: 2 ** 33 + 12345, nsec: 123_456_789 },
      ctime: { sec: MAX_EXT4_SECONDS, nsec: 999_999_999 },
      crtime: { sec: MIN_EXT4_SECONDS, nsec: 1 },
      inlineXattrs: inline,
    };
    const b = Buffer.alloc(INODE_SIZE);
    encodeInode(f, b);
    expect(decodeInode(b)).toEqual(f);

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
      blocks512: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      flags: u32,
      iBlock: bytes(60),
      fileAcl: u32,
      atime: arbTimestamp,
      mtime: arbTimestamp,
      ctime: arbTimestamp,
      crtime: arbTimestamp,
      inlineXattrs: bytes(INLINE_XATTR_SPACE),
    });
    fc.assert(
      fc.property(arb, (f) => {
        const b = Buffer.alloc(INODE_SIZE);
        encodeInode(f, b);
        expect(decodeInode(b)).toEqual(f);
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
    expect(decodeInode(table, INODE_SIZE)).toEqual(f);
  });

  it('without inline xattrs the in-inode area decodes as zeros', () => {
    const f = { ...baseInode(), inlineXattrs: undefined };
    const b = Buffer.alloc(INODE_SIZE);
    encodeInode(f, b);
    const d = decodeInode(b);
    expect(d.inlineXattrs).toEqual(Buffer.alloc(INLINE_XATTR_SPACE));
    expect({ ...d, inlineXattrs: undefined }).toEqual(f);
  });
});

describe('device numbers in i_block (encodeDeviceIBlock / decodeDeviceIBlock)', () => {
  it.each([
    [0, 0],
    [1, 3],
    [8, 1],
    [255, 255],
  ])('uses the old 16-bit encoding in i_block[0] for %i:%i', (major, minor) => {
    const b = encodeDeviceIBlock(major, minor);
    expect(b.length).toBe(60);
    expect(b.readUInt32LE(0)).toBe((major << 8) | minor);
    expect(b.subarray(4).every((x) => x === 0)).toBe(true);
    expect(decodeDeviceIBlock(b)).toEqual({ major, minor });
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
    const b = encodeDeviceIBlock(major, minor);
    expect(b.readUInt32LE(0)).toBe(0);
    expect(b.readUInt32LE(4)).toBe(word);
    expect(b.subarray(8).every((x) => x === 0)).toBe(true);
    expect(decodeDeviceIBlock(b)).toEqual({ major, minor });
  });

  it('round-trips every major up to 0xfff and minor up to 0xfffff (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfff }), fc.integer({ min: 0, max: 0xfffff }), (major, minor) => {
        const b = encodeDeviceIBlock(major, minor);
        const old = major < 256 && minor < 256;
        expect(b.readUInt32LE(old ? 4 : 0)).toBe(0);
        expect(decodeDeviceIBlock(b)).toEqual({ major, minor });
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------

describe('directory blocks (direntSize / directoryBlockCount / encodeDirectory / decodeDirectory)', () => {
  const ent = (name: string | Buffer, inode: number, fileType = 1): DirectoryEntry => ({
    name: typeof name === 'string' ? Buffer.from(name, 'utf8') : name,
    inode,
    fileType,
  });
  const dots = (): DirectoryEntry[] => [ent('.', 2, 2), ent('..', 2, 2)];

  /** Walk every block by rec_len and check the linear-directory invariants. */
  function checkBlocks(data: Buffer): void {
    expect(data.length % BLOCK_SIZE).toBe(0);
    for (let start = 0; start < data.length; start += BLOCK_SIZE) {
      let pos = start;
      let last = -1;
      while (pos < start + BLOCK_SIZE) {
        const recLen = data.readUInt16LE(pos + 4);
        const nameLen = data.readUInt8(pos + 6);
        expect(recLen % 4).toBe(0);
        expect(recLen).toBeGreaterThanOrEqual(direntSize(nameLen));
        last = pos;
        pos += recLen;
      }
      // The last record of each block spans exactly to the block's end.
      expect(pos).toBe(start + BLOCK_SIZE);
      expect(last + data.readUInt16LE(last + 4)).toBe(start + BLOCK_SIZE);
    }
  }

  it('direntSize is 8 header bytes plus the name, rounded up to 4', () => {
    expect(direntSize(0)).toBe(8);
    expect(direntSize(1)).toBe(12);
    expect(direntSize(2)).toBe(12);
    expect(direntSize(4)).toBe(12);
    expect(direntSize(5)).toBe(16);
    expect(direntSize(255)).toBe(264);
    for (let n = 0; n <= 255; n++) {
      const s = direntSize(n);
      expect(s % 4).toBe(0);
      expect(s - 8 - n).toBeGreaterThanOrEqual(0);
      expect(s - 8 - n).toBeLessThan(4);
    }
  });

  it('directoryBlockCount matches the length encodeDirectory produces (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 400 }), (lens) => {
        const entries = lens.map((n, i) => ent(Buffer.alloc(n, 0x61), 12 + i));
        expect(encodeDirectory(entries).length).toBe(directoryBlockCount(lens) * BLOCK_SIZE);
      }),
      RUNS,
    );
  });

  it('fills a block exactly to its end before starting the next', () => {
    // 341 one-byte names take 341 * 12 = 4092 bytes: one block; the 342nd needs a second.
    expect(directoryBlockCount(Array(341).fill(1))).toBe(1);
    expect(directoryBlockCount(Array(342).fill(1))).toBe(2);
    const data = encodeDirectory(Array.from({ length: 342 }, (_, i) => ent('x', 12 + i)));
    expect(data.length).toBe(2 * BLOCK_SIZE);
    expect(data.readUInt16LE(340 * 12 + 4)).toBe(BLOCK_SIZE - 340 * 12); // last of block 0: 16
    expect(data.readUInt32LE(BLOCK_SIZE)).toBe(12 + 341); // first of block 1
    expect(data.readUInt16LE(BLOCK_SIZE + 4)).toBe(BLOCK_SIZE); // alone: spans the whole block
    checkBlocks(data);
    // 255-byte names take 264 bytes: 15 per block.
    expect(directoryBlockCount(Array(15).fill(255))).toBe(1);
    expect(directoryBlockCount(Array(16).fill(255))).toBe(2);
    expect(directoryBlockCount([])).toBe(1);
  });

  it('round-trips names of 1 and 255 bytes and UTF-8 names', () => {
    const entries = [
      ...dots(),
      ent('a', 12),
      ent('x'.repeat(255), 13, 2),
      ent('é'.repeat(127), 14, 7), // 254 bytes
      ent('日本語のファイル名', 15, 3),
      ent('😀'.repeat(63) + 'abc', 16, 4), // 255 bytes
      ent(Buffer.from([0xff, 0xfe, 0x80]), 17, 5), // not even valid UTF-8: bytes are bytes
      ent('last', 0xfffffff0, 6),
    ];
    for (const e of entries) expect(e.name.length).toBeLessThanOrEqual(255);
    const data = encodeDirectory(entries);
    checkBlocks(data);
    const back = decodeDirectory(data);
    expect(back).toEqual(entries);
    expect(back[4].name.toString('utf8')).toBe('é'.repeat(127));
  });

  it('writes ext4_dir_entry_2 fields at their offsets', () => {
    const data = encodeDirectory([ent('.', 2, 2), ent('..', 2, 2), ent('hello', 77, 1)]);
    expect(data.readUInt32LE(0)).toBe(2);
    expect(data.readUInt16LE(4)).toBe(12);
    expect(data.readUInt8(6)).toBe(1);
    expect(data.readUInt8(7)).toBe(2);
    expect(data.subarray(8, 9).toString()).toBe('.');
    expect(data.readUInt16LE(12 + 4)).toBe(12);
    expect(data.readUInt8(12 + 6)).toBe(2);
    expect(data.readUInt32LE(24)).toBe(77);
    expect(data.readUInt16LE(24 + 4)).toBe(BLOCK_SIZE - 24);
    expect(data.readUInt8(24 + 6)).toBe(5);
    expect(data.readUInt8(24 + 7)).toBe(1);
    expect(data.subarray(32, 37).toString()).toBe('hello');
  });

  it('round-trips arbitrary entries and keeps every block covered by rec_len (property)', () => {
    const arbEntry = fc.record({
      name: fc.uint8Array({ minLength: 1, maxLength: 255 }).map((a) => Buffer.from(a)),
      inode: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      fileType: fc.integer({ min: 0, max: 7 }),
    });
    fc.assert(
      fc.property(fc.array(arbEntry, { maxLength: 120 }), (entries) => {
        const data = encodeDirectory(entries);
        expect(data.length).toBe(directoryBlockCount(entries.map((e) => e.name.length)) * BLOCK_SIZE);
        if (entries.length > 0) checkBlocks(data);
        expect(decodeDirectory(data)).toEqual(entries);
      }),
      { numRuns: 100 },
    );
  });

  it('an empty list is one zeroed block; decode skips entries with inode 0', () => {
    const empty = encodeDirectory([]);
    expect(empty).toEqual(Buffer.alloc(BLOCK_SIZE));
    expect(decodeDirectory(empty)).toEqual([]);
    const data = encodeDirectory([ent('a', 12), ent('deleted', 0), ent('b', 13)]);
    expect(decodeDirectory(data).map((e) => e.name.toString())).toEqual(['a', 'b']);
  });
});

// ---------------------------------------------------------------------------

describe('extent trees (buildExtentTree / decodeExtentNode / extentTreeBlockCount / splitLongExtents)', () => {
  /** Build with a counting allocator, then walk the tree back to its leaves, checking each node. */
  function buildAndWalk(extents: Extent[], firstBlock = 1000) {
    let next = firstBlock;
    let calls = 0;
    const tree = buildExtentTree(extents, () => {
      calls++;
      return next++;
    });
    expect(tree.root.length).toBe(60);
    const byBlock = new Map(tree.blocks.map((b) => [b.block, b.data]));
    const walk = (node: Buffer, isRoot: boolean, expectDepth?: number): Extent[] => {
      expect(node.readUInt16LE(0)).toBe(EXTENT_MAGIC);
      const n = decodeExtentNode(node);
      expect(n.max).toBe(isRoot ? ROOT_CAPACITY : NODE_CAPACITY);
      if (expectDepth !== undefined) expect(n.depth).toBe(expectDepth);
      if (n.depth === 0) {
        expect(n.children).toEqual([]);
        return n.leaves;
      }
      expect(n.leaves).toEqual([]);
      return n.children.flatMap((c) => {
        const child = byBlock.get(c.block);
        expect(child, `tree block ${c.block}`).toBeDefined();
        const leaves = walk(child as Buffer, false, n.depth - 1);
        // An index entry's logical block is the first logical block beneath it.
        expect(c.logical).toBe(leaves[0].logical);
        return leaves;
      });
    };
    return { tree, calls, leaves: walk(tree.root, true), rootDepth: decodeExtentNode(tree.root).depth };
  }

  /** Ascending, non-overlapping extents, each 1..32768 blocks. */
  const arbExtents = (minLength: number, maxLength: number) =>
    fc
      .array(
        fc.record({
          gap: fc.integer({ min: 0, max: 1000 }),
          length: fc.integer({ min: 1, max: MAX_EXTENT_LEN }),
          physical: fc.integer({ min: 0, max: 2 ** 48 - 1 - MAX_EXTENT_LEN }),
        }),
        { minLength, maxLength },
      )
      .map((raw) => {
        let logical = 0;
        return raw.map((r): Extent => {
          const e = { logical: logical + r.gap, physical: r.physical, length: r.length };
          logical = e.logical + e.length;
          return e;
        });
      });

  it('keeps up to 4 extents inline in i_block and allocates no tree blocks', () => {
    for (let n = 0; n <= ROOT_CAPACITY; n++) {
      const extents = Array.from({ length: n }, (_, i): Extent => ({ logical: i * 10, physical: 2 ** 32 + i * 100, length: 1 + i }));
      const { tree, calls, leaves } = buildAndWalk(extents);
      expect(calls).toBe(0);
      expect(tree.blocks).toEqual([]);
      expect(extentTreeBlockCount(n)).toBe(0);
      expect(leaves).toEqual(extents);
      expect(tree.root.readUInt16LE(2)).toBe(n); // eh_entries
      expect(tree.root.readUInt16LE(6)).toBe(0); // eh_depth
    }
  });

  it('writes ext4_extent leaf fields at their offsets (48-bit start)', () => {
    const { tree } = buildAndWalk([{ logical: 7, physical: 0x1234_5678_9abc, length: MAX_EXTENT_LEN }]);
    const r = tree.root;
    expect(r.readUInt16LE(0)).toBe(0xf30a);
    expect(r.readUInt16LE(4)).toBe(4); // eh_max
    expect(r.readUInt32LE(12)).toBe(7); // ee_block
    expect(r.readUInt16LE(16)).toBe(MAX_EXTENT_LEN); // ee_len
    expect(r.readUInt16LE(18)).toBe(0x1234); // ee_start_hi
    expect(r.readUInt32LE(20)).toBe(0x5678_9abc); // ee_start_lo
  });

  it.each([
    { n: 5, blocks: 1, depth: 1 },
    { n: NODE_CAPACITY, blocks: 1, depth: 1 },
    { n: NODE_CAPACITY + 1, blocks: 2, depth: 1 },
    { n: ROOT_CAPACITY * NODE_CAPACITY, blocks: 4, depth: 1 },
    { n: ROOT_CAPACITY * NODE_CAPACITY + 1, blocks: 5 + 1, depth: 2 },
    { n: 2000, blocks: 6 + 1, depth: 2 },
  ])('$n extents need $blocks tree blocks at depth $depth', ({ n, blocks, depth }) => {
    const extents = Array.from({ length: n }, (_, i): Extent => ({ logical: i * 2, physical: 5000 + i * 3, length: 1 }));
    const { tree, calls, leaves, rootDepth } = buildAndWalk(extents);
    expect(extentTreeBlockCount(n)).toBe(blocks);
    expect(calls).toBe(blocks);
    expect(tree.blocks.map((b) => b.block).sort((a, b) => a - b)).toEqual(Array.from({ length: blocks }, (_, i) => 1000 + i));
    for (const b of tree.blocks) expect(b.data.length).toBe(BLOCK_SIZE);
    expect(rootDepth).toBe(depth);
    expect(leaves).toEqual(extents);
  });

  it('5..2000 extents: allocate() is called extentTreeBlockCount(n) times and the tree decodes to the input (property)', () => {
    fc.assert(
      fc.property(arbExtents(5, 2000), fc.integer({ min: 1, max: 2 ** 40 }), (extents, first) => {
        const { tree, calls, leaves } = buildAndWalk(extents, first);
        expect(calls).toBe(extentTreeBlockCount(extents.length));
        expect(tree.blocks.length).toBe(calls);
        expect(leaves).toEqual(extents);
      }),
      { numRuns: 60 },
    );
  });

  it('extentTreeBlockCount for trees too large to build here', () => {
    const leavesFull = ROOT_CAPACITY * NODE_CAPACITY * NODE_CAPACITY; // depth 2, full
    expect(extentTreeBlockCount(leavesFull)).toBe(ROOT_CAPACITY * NODE_CAPACITY + ROOT_CAPACITY);
    // One more leaf: 1361 leaf blocks, 5 index blocks, 1 more level.
    expect(extentTreeBlockCount(leavesFull + 1)).toBe(ROOT_CAPACITY * NODE_CAPACITY + 1 + 5 + 1);
  });

  it('decodeExtentNode rejects a node without the magic number', () => {
    const err = expectCode(() => decodeExtentNode(Buffer.alloc(60)), 'EBADIMAGE');
    expect(err.context.magic).toBe(0);
  });

  it('splitLongExtents cuts at 32768 blocks', () => {
    expect(MAX_EXTENT_LEN).toBe(32768);
    expect(splitLongExtents([{ logical: 0, physical: 10, length: 32768 }])).toEqual([{ logical: 0, physical: 10, length: 32768 }]);
    expect(splitLongExtents([{ logical: 5, physical: 10, length: 32769 }])).toEqual([
      { logical: 5, physical: 10, length: 32768 },
      { logical: 5 + 32768, physical: 10 + 32768, length: 1 },
    ]);
    expect(
      splitLongExtents([
        { logical: 0, physical: 2 ** 32, length: 100_000 },
        { logical: 200_000, physical: 7, length: 3 },
      ]),
    ).toEqual([
      { logical: 0, physical: 2 ** 32, length: 32768 },
      { logical: 32768, physical: 2 ** 32 + 32768, length: 32768 },
      { logical: 65536, physical: 2 ** 32 + 65536, length: 32768 },
      { logical: 98304, physical: 2 ** 32 + 98304, length: 100_000 - 98304 },
      { logical: 200_000, physical: 7, length: 3 },
    ]);
    expect(splitLongExtents([])).toEqual([]);
  });

  it('splitLongExtents keeps coverage and order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            logical: fc.integer({ min: 0, max: 2 ** 31 }),
            physical: fc.integer({ min: 0, max: 2 ** 40 }),
            length: fc.integer({ min: 1, max: 300_000 }),
          }),
          { maxLength: 20 },
        ),
        (input) => {
          const out = splitLongExtents(input);
          let k = 0;
          for (const e of input) {
            let covered = 0;
            while (covered < e.length) {
              const piece = out[k++];
              expect(piece.length).toBeGreaterThan(0);
              expect(piece.length).toBeLessThanOrEqual(MAX_EXTENT_LEN);
              expect(piece.logical).toBe(e.logical + covered);
              expect(piece.physical).toBe(e.physical + covered);
              covered += piece.length;
            }
            expect(covered).toBe(e.length);
          }
          expect(k).toBe(out.length);
        },
      ),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------

describe('extended attributes (layoutXattrs / decodeXattrs / names / hashes)', () => {
  /** The kernel's ext4_xattr_hash_entry, transcribed independently (unsigned char name bytes). */
  function kernelEntryHash(name: Buffer, value: Buffer): number {
    let hash = 0;
    for (const c of name) hash = ((hash << 5) ^ (hash >>> 27) ^ c) >>> 0;
    const padded = Buffer.alloc((value.length + 3) & ~3);
    value.copy(padded);
    for (let i = 0; i < padded.length; i += 4) hash = ((hash << 16) ^ (hash >>> 16) ^ padded.readUInt32LE(i)) >>> 0;
    return hash;
  }
  const full = (r: XattrRecord) => joinXattrName(r.index, r.name);
  const asMap = (recs: XattrRecord[]) => new Map(recs.map((r) => [full(r), r.value.toString('hex')]));
  const hexMap = (m: Map<string, Buffer>) => new Map([...m].map(([k, v]) => [k, v.toString('hex')]));

  /** Check the entry headers of an area: stored hashes, value_inum 0, sizes. */
  function checkEntries(area: Buffer, start: number): number[] {
    const hashes: number[] = [];
    let pos = start;
    while (area.readUInt32LE(pos) !== 0) {
      const nameLen = area.readUInt8(pos);
      const valueSize = area.readUInt32LE(pos + 8);
      const offs = area.readUInt16LE(pos + 2);
      const base = start === 4 ? 4 : 0;
      const name = area.subarray(pos + 16, pos + 16 + nameLen);
      const value = area.subarray(base + offs, base + offs + valueSize);
      expect(area.readUInt32LE(pos + 4)).toBe(0); // e_value_inum
      expect(area.readUInt32LE(pos + 12)).toBe(kernelEntryHash(name, value));
      if (valueSize > 0) expect(offs % 4).toBe(0);
      hashes.push(area.readUInt32LE(pos + 12));
      pos += 16 + ((nameLen + 3) & ~3);
    }
    return hashes;
  }

  describe('splitXattrName / joinXattrName', () => {
    it.each([
      ['user.mime_type', 1, 'mime_type'],
      ['user.ünïcödé', 1, 'ünïcödé'],
      ['trusted.overlay.opaque', 4, 'overlay.opaque'],
      ['security.capability', 6, 'capability'],
      ['security.selinux', 6, 'selinux'],
      ['system.posix_acl_access', 2, ''],
      ['system.posix_acl_default', 3, ''],
      ['system.richacl', 8, ''],
      ['system.data', 7, 'data'],
    ])('%s → index %i, name %j', (name, index, rest) => {
      const s = splitXattrName(name);
      expect(s).toEqual({ index, name: Buffer.from(rest, 'utf8') });
      expect(joinXattrName(s.index, s.name)).toBe(name);
    });

    it.each(['os2.foo', 'foo', 'USER.x', 'user.', 'trusted.', '', 'lustre.x'])('rejects %j with EUNSUPPORTED', (name) => {
      const err = expectCode(() => splitXattrName(name), 'EUNSUPPORTED');
      expect(err.context.xattr).toBe(name);
    });

    it('names an unknown index instead of failing', () => {
      expect(joinXattrName(9, Buffer.from('x'))).toBe('unknown9.x');
    });
  });

  describe('xattrEntryHash / xattrBlockHash', () => {
    it('gives stable, kernel-compatible values', () => {
      expect(xattrEntryHash(Buffer.alloc(0), Buffer.alloc(0))).toBe(0);
      // name "a" (0x61), then value word "b\0\0\0" = 0x62: (0x61 << 16) ^ 0x62
      expect(xattrEntryHash(Buffer.from('a'), Buffer.from('b'))).toBe(0x00610062);
      // Pinned values; the same transcription of ext4_xattr_hash_entry must agree.
      const cases: Array<[string, Buffer]> = [
        ['capability', Buffer.from('0100000200200000000000000000000000000000', 'hex')],
        ['selinux', Buffer.from('system_u:object_r:bin_t:s0\0')],
        ['mime_type', Buffer.from('text/plain')],
        ['', Buffer.from('\x02\x00\x00\x00\x01\x00\x06\x00')],
        ['opaque', Buffer.from('y')],
        ['xyz', Buffer.alloc(0)],
      ];
      for (const [n, v] of cases) expect(xattrEntryHash(Buffer.from(n), v), n).toBe(kernelEntryHash(Buffer.from(n), v));
      expect(cases.map(([n, v]) => xattrEntryHash(Buffer.from(n), v))).toEqual([0x8a6182aa, 0x10d900e2, 0x8061e5ba, 0x00040001, 0x4ac5d948, 0x0001ef5a]);
    });

    it('matches the kernel transcription for arbitrary names and values (property)', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 255 }), fc.uint8Array({ maxLength: 600 }), (n, v) => {
          expect(xattrEntryHash(Buffer.from(n), Buffer.from(v))).toBe(kernelEntryHash(Buffer.from(n), Buffer.from(v)));
        }),
        RUNS,
      );
    });

    it('the block hash is the rotate-xor of the entry hashes, 0 if any entry hash is 0', () => {
      expect(xattrBlockHash([])).toBe(0);
      expect(xattrBlockHash([0x12345678])).toBe(0x12345678);
      expect(xattrBlockHash([0x12345678, 1])).toBe(0x56781234 ^ 1);
      expect(xattrBlockHash([5, 0, 7])).toBe(0);
    });
  });

  describe('layoutXattrs / decodeXattrs', () => {
    it('no attributes: no inline area, no block', () => {
      expect(layoutXattrs(new Map())).toEqual({});
    });

    it('keeps small attributes inline, in insertion order', () => {
      const attrs = new Map<string, Buffer>([
        ['user.zeta', Buffer.from('1')],
        ['security.capability', Buffer.alloc(12, 7)],
        ['user.a', Buffer.alloc(0)],
      ]);
      // 8 (magic + terminator) + 24 + (16 + 12 + 12) + 20 = 92 ≤ 96 bytes.
      const layout = layoutXattrs(attrs);
      expect(layout.block).toBeUndefined();
      const inline = layout.inline as Buffer;
      expect(inline.length).toBe(INLINE_XATTR_SPACE);
      expect(inline.readUInt32LE(0)).toBe(XATTR_MAGIC);
      const recs = decodeXattrs(inline, 'inline');
      expect(recs.map(full)).toEqual(['user.zeta', 'security.capability', 'user.a']);
      expect(asMap(recs)).toEqual(hexMap(attrs));
      checkEntries(inline, 4);
    });

    it('fills the inline area to the byte, then spills the rest to a sorted block', () => {
      // Inline budget: 96 - 8 (magic + terminator) = 88. 'user.' + 4-byte name + 52-byte value = 16 + 4 + 52 = 72;
      // then 'user.b' + 0 bytes = 16 + 4 = 20 → 92 > 88, so it spills, and so does everything after it.
      const attrs = new Map<string, Buffer>([
        ['user.aaaa', Buffer.alloc(52, 1)],
        ['user.b', Buffer.alloc(0)],
        ['user.c', Buffer.from('c')], // would fit inline, but order is kept: once spilled, all spill
        ['trusted.t', Buffer.from('t')],
        ['security.s', Buffer.from('s')],
        ['system.posix_acl_access', Buffer.from('acl')],
        ['user.bb', Buffer.from('bb')],
        ['user.ab', Buffer.from('ab')],
      ]);
      const layout = layoutXattrs(attrs);
      const inline = decodeXattrs(layout.inline as Buffer, 'inline');
      expect(inline.map(full)).toEqual(['user.aaaa']);
      const block = layout.block as Buffer;
      expect(block.length).toBe(BLOCK_SIZE);
      expect(block.readUInt32LE(0)).toBe(XATTR_MAGIC);
      expect(block.readUInt32LE(4)).toBe(1); // h_refcount
      expect(block.readUInt32LE(8)).toBe(1); // h_blocks
      const recs = decodeXattrs(block, 'block');
      // Sorted by index, then name length, then name bytes.
      expect(recs.map(full)).toEqual(['user.b', 'user.c', 'user.ab', 'user.bb', 'system.posix_acl_access', 'trusted.t', 'security.s']);
      expect(asMap([...inline, ...recs])).toEqual(hexMap(attrs));
      const hashes = checkEntries(block, 32);
      expect(block.readUInt32LE(12)).toBe(xattrBlockHash(hashes)); // h_hash
      checkEntries(layout.inline as Buffer, 4);
    });

    it('an attribute that exactly fills the inline area stays inline', () => {
      // 'user.n' (1-byte name → 4) + 68-byte value: 16 + 4 + 68 = 88 = the whole budget.
      const layout = layoutXattrs(new Map([['user.n', Buffer.alloc(68, 9)]]));
      expect(layout.block).toBeUndefined();
      expect(decodeXattrs(layout.inline as Buffer, 'inline')[0].value).toEqual(Buffer.alloc(68, 9));
      const spilled = layoutXattrs(new Map([['user.n', Buffer.alloc(69, 9)]]));
      expect(spilled.inline).toBeUndefined();
      expect(decodeXattrs(spilled.block as Buffer, 'block')[0].value).toEqual(Buffer.alloc(69, 9));
    });

    it('fails with ETOOBIG past one block, and not before', () => {
      // Block: 32-byte header + 16 + 4 (name 'v') + value + 4-byte terminator ≤ 4096 → value ≤ 4040.
      const fits = layoutXattrs(new Map([['user.v', Buffer.alloc(4040, 3)]]));
      expect(decodeXattrs(fits.block as Buffer, 'block')[0].value).toEqual(Buffer.alloc(4040, 3));
      const err = expectCode(() => layoutXattrs(new Map([['user.v', Buffer.alloc(4041, 3)]]), { entry: 'some/file' }), 'ETOOBIG');
      expect(err.context.entry).toBe('some/file');
      expect(err.context.bytes).toBe(4100);
      const many = new Map(Array.from({ length: 40 }, (_, i): [string, Buffer] => [`user.attr${i}`, Buffer.alloc(100)]));
      expectCode(() => layoutXattrs(many), 'ETOOBIG');
    });

    it('fails with ETOOBIG for a name over 255 bytes and EUNSUPPORTED for a foreign namespace', () => {
      expectCode(() => layoutXattrs(new Map([[`user.${'n'.repeat(256)}`, Buffer.alloc(1)]])), 'ETOOBIG');
      layoutXattrs(new Map([[`user.${'n'.repeat(255)}`, Buffer.alloc(1)]]));
      expectCode(() => layoutXattrs(new Map([['os2.x', Buffer.alloc(1)]])), 'EUNSUPPORTED');
    });

    it('decodes nothing from an area without the magic number', () => {
      expect(decodeXattrs(Buffer.alloc(INLINE_XATTR_SPACE), 'inline')).toEqual([]);
      expect(decodeXattrs(Buffer.alloc(BLOCK_SIZE), 'block')).toEqual([]);
      expect(decodeXattrs(Buffer.alloc(2), 'block')).toEqual([]);
    });

    it('round-trips through both areas (property)', () => {
      const arbAttrs = fc
        .uniqueArray(
          fc.tuple(
            fc.constantFrom('user.', 'trusted.', 'security.'),
            fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme-ascii' }),
            fc.uint8Array({ maxLength: 300 }),
          ),
          { maxLength: 10, selector: ([p, n]) => p + n },
        )
        .map((list) => new Map(list.map(([p, n, v]): [string, Buffer] => [p + n, Buffer.from(v)])));
      fc.assert(
        fc.property(arbAttrs, (attrs) => {
          const layout = layoutXattrs(attrs);
          const inline = layout.inline ? decodeXattrs(layout.inline, 'inline') : [];
          const block = layout.block ? decodeXattrs(layout.block, 'block') : [];
          // Inline holds a prefix of the insertion order; the block holds the rest.
          expect(inline.map(full)).toEqual([...attrs.keys()].slice(0, inline.length));
          expect(inline.length + block.length).toBe(attrs.size);
          expect(asMap([...inline, ...block])).toEqual(hexMap(attrs));
          if (layout.inline) checkEntries(layout.inline, 4);
          if (layout.block) expect(layout.block.readUInt32LE(12)).toBe(xattrBlockHash(checkEntries(layout.block, 32)));
        }),
        RUNS,
      );
    });
  });
});

// ---------------------------------------------------------------------------

describe('superblock (encodeSuperblock / decodeSuperblock)', () => {
  const sample = (): Superblock => ({
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
    volumeName: 'layer',
    logGroupsPerFlex: 4,
    hashSeed: Buffer.from('ffeeddccbbaa99887766554433221100', 'hex'),
    timestamp: 0,
  });

  it('round-trips every field of the type and fixes the format constants', () => {
    const sb = sample();
    const b = encodeSuperblock(sb);
    expect(b.length).toBe(SUPERBLOCK_SIZE);
    const d = decodeSuperblock(b);
    expect(d).toEqual({ ...sb, magic: 0xef53, blocksPerGroup: BLOCKS_PER_GROUP, inodeSize: INODE_SIZE, logBlockSize: 2 });
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
      blocksCount: u32,
      reservedBlocksCount: u32,
      freeBlocksCount: u32,
      freeInodesCount: u32,
      inodesPerGroup: u32,
      featureCompat: u32,
      featureIncompat: u32,
      featureRoCompat: u32,
      uuid: bytes(16),
      volumeName: fc.string({ maxLength: 16, unit: 'grapheme-ascii' }).filter((s) => !s.includes('\0')),
      logGroupsPerFlex: fc.integer({ min: 0, max: 31 }),
      hashSeed: bytes(16),
      timestamp: u32,
    });
    fc.assert(
      fc.property(arb, (sb) => {
        const d = decodeSuperblock(encodeSuperblock(sb));
        expect(d).toEqual({ ...sb, magic: 0xef53, blocksPerGroup: BLOCKS_PER_GROUP, inodeSize: INODE_SIZE, logBlockSize: 2 });
      }),
      RUNS,
    );
  });

  it('truncates the volume name to its 16-byte field', () => {
    const d = decodeSuperblock(encodeSuperblock({ ...sample(), volumeName: 'a-very-long-volume-name' }));
    expect(d.volumeName).toBe('a-very-long-volu');
  });

  it('formats UUIDs and derives version-5 UUIDs from a hash', () => {
    expect(formatUuid(Buffer.from('00112233445566778899aabbccddeeff', 'hex'))).toBe('00112233-4455-6677-8899-aabbccddeeff');
    const u = uuidFromHash(Buffer.alloc(32, 0xff));
    expect(u.length).toBe(16);
    expect(formatUuid(u)).toBe('ffffffff-ffff-5fff-bfff-ffffffffffff');
    expect(formatUuid(uuidFromHash(Buffer.alloc(20, 0)))).toBe('00000000-0000-5000-8000-000000000000');
  });
});

describe('group descriptors (encodeGroupDescriptor / decodeGroupDescriptor / encodeGroupDescriptorTable)', () => {
  const arbGd: fc.Arbitrary<GroupDescriptor> = fc.record({
    blockBitmap: u32,
    inodeBitmap: u32,
    inodeTable: u32,
    freeBlocksCount: u16,
    freeInodesCount: u16,
    usedDirsCount: u16,
  });

  it('writes ext4_group_desc fields at their offsets, the rest zero', () => {
    const b = Buffer.alloc(GROUP_DESC_SIZE);
    encodeGroupDescriptor(
      { blockBitmap: 0x11111111, inodeBitmap: 0x22222222, inodeTable: 0x33333333, freeBlocksCount: 0x4444, freeInodesCount: 0x5555, usedDirsCount: 0x6666 },
      b,
      0,
    );
    expect(b.toString('hex')).toBe('111111112222222233333333444455556666' + '00'.repeat(GROUP_DESC_SIZE - 18));
  });

  it('round-trips a table of descriptors padded to whole blocks (property)', () => {
    fc.assert(
      fc.property(fc.array(arbGd, { minLength: 1, maxLength: 300 }), (gds) => {
        const blocks = Math.ceil((gds.length * GROUP_DESC_SIZE) / BLOCK_SIZE);
        const table = encodeGroupDescriptorTable(gds, blocks, BLOCK_SIZE);
        expect(table.length).toBe(blocks * BLOCK_SIZE);
        expect(gds.map((_, i) => decodeGroupDescriptor(table, i * GROUP_DESC_SIZE))).toEqual(gds);
        expect(table.subarray(gds.length * GROUP_DESC_SIZE).every((x) => x === 0)).toBe(true);
        for (let i = 0; i < gds.length; i++) {
          expect(table.subarray(i * GROUP_DESC_SIZE + 18, (i + 1) * GROUP_DESC_SIZE).every((x) => x === 0)).toBe(true);
        }
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------

describe('bitmaps (GroupBitmaps)', () => {
  const BITS = BLOCK_SIZE * 8;

  it('sets ranges, pads the tail of a group and counts only valid bits', () => {
    const m = new GroupBitmaps(2);
    expect(m.data.length).toBe(2 * BLOCK_SIZE);
    m.setRange(3, 10);
    m.setRange(BITS + 5, 1);
    m.padGroup(1, 100);
    expect(m.countUsed(0, BITS)).toBe(10);
    expect(m.countUsed(1, 100)).toBe(1);
    expect(m.countUsed(1, BITS)).toBe(1 + BITS - 100);
    expect(m.isSet(2)).toBe(false);
    expect(m.isSet(3)).toBe(true);
    expect(m.isSet(12)).toBe(true);
    expect(m.isSet(13)).toBe(false);
    expect(m.isSet(BITS + 99)).toBe(false);
    expect(m.isSet(BITS + 100)).toBe(true);
    expect(m.isSet(2 * BITS - 1)).toBe(true);
    expect(m.groupBlock(0).readUInt16LE(0)).toBe(0b0001_1111_1111_1000);
    expect(m.groupBlock(1).length).toBe(BLOCK_SIZE);
    // groupBlock is a view: it sees later changes.
    const g0 = m.groupBlock(0);
    m.setBit(100);
    expect(g0[12] & 0x10).toBe(0x10);
  });

  it('padding a full group sets nothing; padding from 0 sets the whole block', () => {
    const m = new GroupBitmaps(2);
    m.padGroup(0, BITS);
    expect(m.groupBlock(0).every((x) => x === 0)).toBe(true);
    m.padGroup(1, 0);
    expect(m.groupBlock(1).every((x) => x === 0xff)).toBe(true);
    expect(m.countUsed(1, 0)).toBe(0);
  });

  it('agrees with a bit-by-bit model (property)', () => {
    const groups = 2;
    const op = fc.record({ start: fc.integer({ min: 0, max: groups * BITS - 1 }), count: fc.integer({ min: 0, max: 5000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 8 }), fc.integer({ min: 0, max: BITS }), (ops, valid) => {
        const m = new GroupBitmaps(groups);
        const model = Buffer.alloc(groups * BLOCK_SIZE);
        for (const { start, count } of ops) {
          const c = Math.min(count, groups * BITS - start);
          m.setRange(start, c);
          for (let i = start; i < start + c; i++) model[i >> 3] |= 1 << (i & 7);
        }
        expect(m.data.equals(model)).toBe(true);
        for (let g = 0; g < groups; g++) {
          let n = 0;
          for (let i = 0; i < valid; i++) if (model[(g * BITS + i) >> 3] & (1 << (i & 7))) n++;
          expect(m.countUsed(g, valid)).toBe(n);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('geometry (computeGeometry / reservedGdtBlocks)', () => {
  it('reserves descriptor blocks for the largest image', () => {
    expect(reservedGdtBlocks(1)).toBe(1);
    expect(reservedGdtBlocks(BLOCKS_PER_GROUP * 128)).toBe(1);
    expect(reservedGdtBlocks(BLOCKS_PER_GROUP * 128 + 1)).toBe(2);
    expect(reservedGdtBlocks((128 * 1024 ** 3) / BLOCK_SIZE)).toBe(8); // 128 GiB: 1024 groups
  });

  it('a tiny image: one group, one inode-table block, bitmaps right after', () => {
    expect(computeGeometry(100, 11)).toEqual({
      groups: 1,
      inodesPerGroup: INODES_PER_BLOCK,
      blocksCount: 103,
      inodeTableStart: 100,
      inodeTableBlocksPerGroup: 1,
      blockBitmapStart: 101,
      inodeBitmapStart: 102,
      gdtBlocks: 1,
    });
    // The only group still gets at least 64 blocks, even when its metadata ends earlier.
    expect(computeGeometry(1, 11).blocksCount).toBe(64);
  });

  it('keeps its layout promises for any data size and inode count (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 24 }), fc.integer({ min: 11, max: 2 ** 22 }), (metaStart, inodes) => {
        const g = computeGeometry(metaStart, inodes);
        expect(g.groups).toBeGreaterThanOrEqual(1);
        expect(g.inodesPerGroup % INODES_PER_BLOCK).toBe(0);
        expect(g.inodesPerGroup).toBeLessThanOrEqual(MAX_INODES_PER_GROUP);
        expect(g.groups * g.inodesPerGroup).toBeGreaterThanOrEqual(inodes);
        expect(g.inodeTableBlocksPerGroup).toBe(g.inodesPerGroup / INODES_PER_BLOCK);
        // [inode tables of all groups][block bitmaps][inode bitmaps], starting at metaStart.
        expect(g.inodeTableStart).toBe(metaStart);
        expect(g.blockBitmapStart).toBe(metaStart + g.groups * g.inodeTableBlocksPerGroup);
        expect(g.inodeBitmapStart).toBe(g.blockBitmapStart + g.groups);
        expect(g.blocksCount).toBeGreaterThanOrEqual(g.inodeBitmapStart + g.groups);
        // Every group exists: the last one starts inside the file system and holds some blocks.
        expect(g.blocksCount).toBeLessThanOrEqual(g.groups * BLOCKS_PER_GROUP);
        expect(g.blocksCount).toBeGreaterThanOrEqual((g.groups - 1) * BLOCKS_PER_GROUP + 64);
        expect(g.gdtBlocks).toBe(Math.ceil((g.groups * GROUP_DESC_SIZE) / BLOCK_SIZE));
      }),
      RUNS,
    );
  });

  it('inodes alone can force more groups', () => {
    const g = computeGeometry(10, 3 * MAX_INODES_PER_GROUP + 1);
    expect(g.groups).toBe(4);
    expect(g.blocksCount).toBe(3 * BLOCKS_PER_GROUP + 64);
  });

  it('fails with ETOOBIG past 32-bit block numbers', () => {
    const err = expectCode(() => computeGeometry(2 ** 32 - 10, 11), 'ETOOBIG');
    expect(err.context.blocksCount as number).toBeGreaterThan(2 ** 32 - 1);
  });
});

describe('sparse ranges (regionsToBlockRanges / PackedCursor)', () => {
  const K = BLOCK_SIZE;

  it('maps regions to block ranges packed back to back', () => {
    expect(regionsToBlockRanges([], 10 * K, 'f')).toEqual([]);
    expect(
      regionsToBlockRanges(
        [
          { offset: 0, length: 1 },
          { offset: 10, length: 5 }, // same block as the first: merged
          { offset: K, length: 1 }, // the next block: touching, merged
          { offset: 5 * K + 100, length: 2 * K }, // blocks 5..7
          { offset: 9 * K, length: 0 }, // empty: no blocks
          { offset: 20 * K, length: K }, // exactly block 20
        ],
        21 * K,
        'f',
      ),
    ).toEqual([
      { logical: 0, length: 2, packed: 0 },
      { logical: 5, length: 3, packed: 2 },
      { logical: 20, length: 1, packed: 5 },
    ]);
  });

  it.each([
    {
      name: 'overlapping',
      regions: [
        { offset: 0, length: 10 },
        { offset: 5, length: 1 },
      ],
    },
    {
      name: 'descending',
      regions: [
        { offset: 100, length: 1 },
        { offset: 0, length: 1 },
      ],
    },
    { name: 'past the end', regions: [{ offset: 90, length: 11 }] },
    { name: 'negative length', regions: [{ offset: 10, length: -1 }] },
    { name: 'fractional', regions: [{ offset: 0.5, length: 1 }] },
  ])('rejects $name regions with EBADTAR', ({ regions }) => {
    const err = expectCode(() => regionsToBlockRanges(regions, 100, 'dir/file'), 'EBADTAR');
    expect(err.context.entry).toBe('dir/file');
  });

  it('PackedCursor finds packed positions and refuses offsets in holes', () => {
    const ranges = regionsToBlockRanges(
      [
        { offset: 0, length: 10 },
        { offset: 3 * K + 7, length: 2 * K },
      ],
      10 * K,
      'f',
    );
    const c = new PackedCursor(ranges);
    expect(c.positionOf(0)).toBe(0);
    expect(c.positionOf(9)).toBe(9);
    expect(c.positionOf(3 * K + 7)).toBe(K + 7);
    expect(c.positionOf(5 * K + 6)).toBe(3 * K + 6);
    expectCode(() => c.positionOf(7 * K), 'EBADTAR');
    expectCode(() => new PackedCursor(ranges).positionOf(2 * K), 'EBADTAR');
  });

  it('agrees with a block-by-block model (property)', () => {
    // Regions from (gap, length) pairs, in bytes; small enough to enumerate every block.
    const arbRegions = fc.array(fc.tuple(fc.integer({ min: 0, max: 3 * K }), fc.integer({ min: 0, max: 3 * K })), { maxLength: 30 });
    fc.assert(
      fc.property(arbRegions, fc.integer({ min: 0, max: K }), (pairs, tail) => {
        const regions: Array<{ offset: number; length: number }> = [];
        let pos = 0;
        for (const [gap, length] of pairs) {
          regions.push({ offset: pos + gap, length });
          pos += gap + length;
        }
        const size = pos + tail;
        const ranges = regionsToBlockRanges(regions, size, 'f');
        // Model: the set of blocks any non-empty region touches, in order.
        const blocks = new Set<number>();
        for (const r of regions) if (r.length > 0) for (let b = Math.floor(r.offset / K); b < Math.ceil((r.offset + r.length) / K); b++) blocks.add(b);
        const expected = [...blocks].sort((a, b) => a - b);
        const got = ranges.flatMap((r) => Array.from({ length: r.length }, (_, i) => r.logical + i));
        expect(got).toEqual(expected);
        let packed = 0;
        for (let i = 0; i < ranges.length; i++) {
          expect(ranges[i].length).toBeGreaterThan(0);
          expect(ranges[i].packed).toBe(packed);
          packed += ranges[i].length;
          // Touching ranges are merged, so a hole block separates neighbours.
          if (i > 0) expect(ranges[i].logical).toBeGreaterThan(ranges[i - 1].logical + ranges[i - 1].length);
        }
        // Positions: the index of the block within the packed data, plus the offset in the block.
        const cursor = new PackedCursor(ranges);
        for (const r of regions) {
          if (r.length === 0) continue;
          for (const off of [r.offset, r.offset + (r.length >> 1), r.offset + r.length - 1]) {
            expect(cursor.positionOf(off)).toBe(expected.indexOf(Math.floor(off / K)) * K + (off % K));
          }
        }
      }),
      RUNS,
    );
  });
});
