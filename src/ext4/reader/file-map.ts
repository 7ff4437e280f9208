/**
 * A file's logical → physical block map, whatever stored it (an extent tree,
 * walked here, or the old indirect block map, block-map.ts): sorted,
 * non-overlapping runs. Blocks not in any run are holes; `uninit` runs
 * (preallocated, never written) read as zeros too.
 */
import { LcowError } from '../../errors.js';
import { decodeExtentNode } from '../format/extents.js';

export interface MappedRun {
  logical: number;
  physical: number;
  length: number;
  uninit: boolean;
}

/** Reads one file-system block (by number); the reader's cache is behind it. */
export type ReadBlock = (block: number) => Promise<Buffer>;

/**
 * Sort runs by logical block and check them: two runs covering one logical
 * block, or one physical block mapped twice, are EBADIMAGE. No kernel writes
 * either, and the second is how a small hostile image claims gigabytes: a
 * directory whose extents map the same half megabyte over and over listed
 * 59 million entries before this check.
 */
export function normaliseRuns(runs: MappedRun[], ino: number): MappedRun[] {
  if (runs.length === 1 && runs[0]!.length > 0) return runs; // most files: nothing to compare
  const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `inode ${ino}: ${why}`, { inode: ino });
  const out = runs.filter((r) => r.length > 0).sort((a, b) => a.logical - b.logical);
  for (let i = 1; i < out.length; i++) {
    const prev = out[i - 1]!;
    if (out[i]!.logical < prev.logical + prev.length) throw bad(`logical block ${out[i]!.logical} is mapped twice`);
  }
  const byPhysical = [...out].sort((a, b) => a.physical - b.physical);
  for (let i = 1; i < byPhysical.length; i++) {
    const prev = byPhysical[i - 1]!;
    if (byPhysical[i]!.physical < prev.physical + prev.length) throw bad(`physical block ${byPhysical[i]!.physical} is mapped twice`);
  }
  return out;
}

/**
 * Counts the blocks a map claims as it is read: more than the volume holds
 * means some block is mapped twice, so the walk stops there instead of
 * collecting a map the size of what the metadata claims.
 */
export class MappedBlockCount {
  private total = 0;
  constructor(
    private readonly blocksCount: number,
    private readonly ino: number,
  ) {}
  add(length: number): void {
    this.total += length;
    if (this.total > this.blocksCount) {
      throw new LcowError('EBADIMAGE', `inode ${this.ino}: maps more blocks than the volume's ${this.blocksCount}`, { inode: this.ino });
    }
  }
}

/** Index of the run containing logical block `lb`, or of the first run after it (may be runs.length). */
export function findRun(runs: MappedRun[], lb: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid]!.logical + runs[mid]!.length <= lb) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The kernel never builds deeper trees (EXT4_MAX_EXTENT_DEPTH). */
const MAX_EXTENT_DEPTH = 5;

/**
 * Walk the extent tree rooted at `root` (i_block) and return every leaf
 * extent. Corrupt trees (bad header, wrong depth, a block seen twice, a block
 * past the volume, a block mapped twice) are EBADIMAGE; the walk visits each
 * block at most once.
 */
export async function readExtentTree(root: Buffer, readBlock: ReadBlock, blocksCount: number, ino: number): Promise<MappedRun[]> {
  const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `inode ${ino}: extent tree ${why}`, { inode: ino });
  const runs: MappedRun[] = [];
  const seen = new Set<number>();
  const count = new MappedBlockCount(blocksCount, ino);
  const walk = async (block: Buffer, expectDepth: number | undefined): Promise<void> => {
    const node = decodeExtentNode(block);
    if (!node) throw bad('node has a bad header');
    if (node.depth > MAX_EXTENT_DEPTH || (expectDepth !== undefined && node.depth !== expectDepth)) throw bad(`node depth ${node.depth}`);
    for (const e of node.leaves) {
      if (e.length === 0) continue;
      if (e.physical + e.length > blocksCount) throw bad(`extent at block ${e.physical} (+${e.length}) is outside the volume`);
      count.add(e.length);
      runs.push(e);
    }
    for (const c of node.children) {
      if (c.block === 0 || c.block >= blocksCount) throw bad(`index points at block ${c.block}`);
      if (seen.has(c.block)) throw bad(`block ${c.block} is referenced twice`);
      seen.add(c.block);
      await walk(await readBlock(c.block), node.depth - 1);
    }
  };
  await walk(root, undefined);
  return normaliseRuns(runs, ino);
}
