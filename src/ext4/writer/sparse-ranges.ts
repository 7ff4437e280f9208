/**
 * Maps a sparse file's data regions onto blocks: the logical block ranges
 * that hold data (regions sharing or touching a block are merged), packed
 * back to back on disk. Holes get no blocks at all.
 */
import { LcowError } from '../../errors.js';
import type { SparseRegion } from './entry.js';
import { BLOCK_SIZE } from '../format/constants.js';

export interface BlockRange {
  /** First logical block. */
  logical: number;
  /** Number of blocks. */
  length: number;
  /** Offset of this range within the file's packed on-disk data, in blocks. */
  packed: number;
}

/** Validate regions (ascending, non-overlapping, inside `size`) and merge them into block ranges. */
export function regionsToBlockRanges(regions: SparseRegion[], size: number, tarName: string): BlockRange[] {
  const out: BlockRange[] = [];
  let prevEnd = 0;
  let packed = 0;
  for (const r of regions) {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.offset < prevEnd || r.length < 0 || r.offset + r.length > size) {
      throw new LcowError('EBADTAR', `${tarName}: bad sparse map (regions must ascend, not overlap, and lie inside the file)`, { entry: tarName, region: r });
    }
    prevEnd = r.offset + r.length;
    if (r.length === 0) continue;
    const first = Math.floor(r.offset / BLOCK_SIZE);
    const end = Math.ceil((r.offset + r.length) / BLOCK_SIZE);
    const last = out[out.length - 1];
    if (last && first <= last.logical + last.length) {
      const grow = end - (last.logical + last.length);
      if (grow > 0) {
        last.length += grow;
        packed += grow;
      }
    } else {
      out.push({ logical: first, length: end - first, packed });
      packed += end - first;
    }
  }
  return out;
}

/**
 * Byte positions within the packed data for ascending logical offsets: a
 * forward-only cursor, so a file with many regions stays linear.
 */
export class PackedCursor {
  private i = 0;
  constructor(private readonly ranges: readonly BlockRange[]) {}

  /** Packed byte position of logical byte `offset` (offsets must not decrease between calls). */
  positionOf(offset: number): number {
    const block = Math.floor(offset / BLOCK_SIZE);
    for (let r = this.ranges[this.i]; r !== undefined; r = this.ranges[++this.i]) {
      if (block < r.logical + r.length) {
        if (block < r.logical) break;
        return (r.packed + block - r.logical) * BLOCK_SIZE + (offset % BLOCK_SIZE);
      }
    }
    throw new LcowError('EBADTAR', 'sparse offset outside every data range', { offset });
  }
}
