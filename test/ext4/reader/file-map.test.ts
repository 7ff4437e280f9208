/** A file's block map as the reader takes it: sorted, and refused when a block is mapped twice or more than the volume holds. */
import { describe, expect, it } from 'vitest';
import { buildExtentTree } from '../../../src/ext4/format/extents.js';
import { normaliseRuns, readExtentTree, type MappedRun } from '../../../src/ext4/reader/file-map.js';

const run = (logical: number, physical: number, length: number): MappedRun => ({ logical, physical, length, uninit: false });

describe('normaliseRuns', () => {
  it('sorts by logical block and drops empty runs', () => {
    expect(normaliseRuns([run(10, 100, 2), run(0, 50, 1), run(5, 60, 0)], 12)).toEqual([run(0, 50, 1), run(10, 100, 2)]);
  });

  it('refuses a logical block mapped twice and a physical block mapped twice (EBADIMAGE)', () => {
    expect(() => normaliseRuns([run(0, 50, 4), run(2, 80, 1)], 12)).toThrow(expect.objectContaining({ code: 'EBADIMAGE' }));
    expect(() => normaliseRuns([run(0, 50, 4), run(10, 52, 1)], 12)).toThrow(/physical block 52 is mapped twice/);
  });
});

describe('readExtentTree', () => {
  it('stops as soon as the extents claim more blocks than the volume has', async () => {
    const extents = Array.from({ length: 340 * 3 }, (_, i) => ({ logical: i * 32768, physical: 1, length: 32768 }));
    const blocks = new Map<number, Buffer>();
    let next = 100;
    const tree = buildExtentTree(extents, () => next++);
    for (const b of tree.blocks) blocks.set(b.block, b.data);
    let reads = 0;
    const read = async (b: number): Promise<Buffer> => {
      reads++;
      return blocks.get(b)!;
    };
    await expect(readExtentTree(tree.root, read, 65536, 12)).rejects.toThrow(/maps more blocks than the volume/);
    expect(reads).toBeLessThanOrEqual(2); // the first leaf is enough
  });
});
