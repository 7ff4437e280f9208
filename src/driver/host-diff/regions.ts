/**
 * A sparse file's data regions as the tar carries them. The tar reader
 * (this project's, which applyDiff uses) accepts at most MAX_SPARSE_REGIONS
 * regions per file; a file fragmented past that (a hostile sandbox can make
 * one) keeps its smallest holes as written zeros instead, so its diff stays
 * readable and still no larger than its data plus those holes.
 */
import type { DataRegion } from '../../ext4/index.js';

export function fitRegions(regions: DataRegion[], max: number): DataRegion[] {
  if (regions.length <= max) return regions;
  const gapAfter = (i: number): number => regions[i + 1]!.offset - (regions[i]!.offset + regions[i]!.length);
  const gaps = regions.slice(0, -1).map((_, i) => gapAfter(i));
  gaps.sort((a, b) => a - b);
  // Closing every gap up to the (n - max)-th smallest leaves at most `max` regions.
  const threshold = gaps[regions.length - max - 1]!;
  const out: DataRegion[] = [{ ...regions[0]! }];
  for (let i = 1; i < regions.length; i++) {
    const last = out[out.length - 1]!;
    const r = regions[i]!;
    if (gapAfter(i - 1) <= threshold) last.length = r.offset + r.length - last.offset;
    else out.push({ ...r });
  }
  return out;
}
