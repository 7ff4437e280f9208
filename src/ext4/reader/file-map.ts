/**
 * A file's logical → physical block map, whatever stored it (extent tree or
 * the old indirect block map): sorted, non-overlapping runs. Blocks not in
 * any run are holes; `uninit` runs (preallocated, never written) read as
 * zeros too.
 */
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
    if (runs[mid].logical + runs[mid].length <= lb) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
