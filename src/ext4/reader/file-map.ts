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

/** Sort runs by logical block and drop any that overlap an earlier one (corrupt maps). */
export function normaliseRuns(runs: MappedRun[]): MappedRun[] {
  runs.sort((a, b) => a.logical - b.logical);
  const out: MappedRun[] = [];
  let end = 0;
  for (const r of runs) {
    if (r.length <= 0 || r.logical < end) continue;
    out.push(r);
    end = r.logical + r.length;
  }
  return out;
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
 * past the volume) are EBADIMAGE; the walk visits each block at most once.
 */
export async function readExtentTree(root: Buffer, readBlock: ReadBlock, blocksCount: number, ino: number): Promise<MappedRun[]> {
  const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `inode ${ino}: extent tree ${why}`, { inode: ino });
  const runs: MappedRun[] = [];
  const seen = new Set<number>();
  const walk = async (block: Buffer, expectDepth: number | undefined): Promise<void> => {
    const node = decodeExtentNode(block);
    if (!node) throw bad('node has a bad header');
    if (node.depth > MAX_EXTENT_DEPTH || (expectDepth !== undefined && node.depth !== expectDepth)) throw bad(`node depth ${node.depth}`);
    for (const e of node.leaves) {
      if (e.length === 0) continue;
      if (e.physical + e.length > blocksCount) throw bad(`extent at block ${e.physical} (+${e.length}) is outside the volume`);
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
  return normaliseRuns(runs);
}
