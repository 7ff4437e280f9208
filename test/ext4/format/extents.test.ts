/**
 * Extent trees: what the writer builds, read back node by node with the
 * decoder the reader uses and walked by the reader's readExtentTree; the
 * field offsets of ext4_extent; block counts for each depth.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, MAX_EXTENT_LEN } from '../../../src/ext4/format/constants.js';
import {
  EXTENT_MAGIC,
  NODE_CAPACITY,
  ROOT_CAPACITY,
  buildExtentTree,
  decodeExtentNode,
  extentRootScratch,
  extentTreeBlockCount,
  splitLongExtents,
  writeContiguousRoot,
  type Extent,
} from '../../../src/ext4/format/extents.js';
import { readExtentTree } from '../../../src/ext4/reader/file-map.js';
import { RUNS } from './helpers.js';

describe("extent trees: buildExtentTree through the reader's decodeExtentNode and readExtentTree", () => {
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
      const n = decodeExtentNode(node)!;
      expect(n).toBeDefined();
      expect(n.max).toBe(isRoot ? ROOT_CAPACITY : NODE_CAPACITY);
      if (expectDepth !== undefined) expect(n.depth).toBe(expectDepth);
      if (n.depth === 0) {
        expect(n.children).toEqual([]);
        expect(n.leaves.every((e) => !e.uninit)).toBe(true);
        return n.leaves.map(({ uninit: _, ...e }) => e);
      }
      expect(n.leaves).toEqual([]);
      return n.children.flatMap((c) => {
        const child = byBlock.get(c.block);
        expect(child, `tree block ${c.block}`).toBeDefined();
        const leaves = walk(child as Buffer, false, n.depth - 1);
        // An index entry's logical block is the first logical block beneath it.
        expect(c.logical).toBe(leaves[0]!.logical);
        return leaves;
      });
    };
    return { tree, calls, byBlock, leaves: walk(tree.root, true), rootDepth: decodeExtentNode(tree.root)!.depth };
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

  it('the reader walks what the writer built to the same extents', async () => {
    const extents = Array.from({ length: 2000 }, (_, i): Extent => ({ logical: i * 2, physical: 5000 + i * 3, length: 1 }));
    const { tree, byBlock } = buildAndWalk(extents);
    const runs = await readExtentTree(tree.root, async (b) => byBlock.get(b)!, 2 ** 32, 12);
    expect(runs).toEqual(extents.map((e) => ({ ...e, uninit: false })));
  });

  it('decodes an uninitialised extent (length over 32768) as the kernel does', () => {
    const { tree } = buildAndWalk([{ logical: 0, physical: 100, length: 10 }]);
    tree.root.writeUInt16LE(MAX_EXTENT_LEN + 10, 16); // ee_len with the uninit bit
    expect(decodeExtentNode(tree.root)!.leaves).toEqual([{ logical: 0, physical: 100, length: 10, uninit: true }]);
  });

  it('decodeExtentNode refuses a node without the magic number or with more entries than fit', () => {
    expect(decodeExtentNode(Buffer.alloc(60))).toBeUndefined();
    const { tree } = buildAndWalk([{ logical: 0, physical: 100, length: 10 }]);
    tree.root.writeUInt16LE(5, 2); // eh_entries > eh_max
    expect(decodeExtentNode(tree.root)).toBeUndefined();
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
              const piece = out[k++]!;
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

describe("writeContiguousRoot (the writer's common inode)", () => {
  it('writes the root buildExtentTree writes for one contiguous run, up to four extents of 32,768 blocks', () => {
    for (const [physical, length] of [
      [0, 0],
      [1000, 1],
      [1000, MAX_EXTENT_LEN],
      [2 ** 33 + 5, MAX_EXTENT_LEN + 1],
      [77, 4 * MAX_EXTENT_LEN],
    ] as const) {
      const want = buildExtentTree(splitLongExtents(length ? [{ logical: 0, physical, length }] : []), () => {
        throw new Error('no tree blocks for a root');
      }).root;
      const scratch = extentRootScratch();
      scratch.bytes.fill(0xee);
      expect(writeContiguousRoot(scratch, physical, length), `${physical}+${length}`).toBe(true);
      expect(scratch.bytes.equals(want), `${physical}+${length}`).toBe(true);
    }
  });

  it('declines, writing nothing, a run that needs a tree', () => {
    const scratch = extentRootScratch();
    scratch.bytes.fill(0xee);
    expect(writeContiguousRoot(scratch, 5, 4 * MAX_EXTENT_LEN + 1)).toBe(false);
    expect(scratch.bytes.every((b) => b === 0xee)).toBe(true);
  });
});
