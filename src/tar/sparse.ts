/**
 * GNU sparse files, in the four encodings GNU tar has used:
 *
 * - old GNU ('S' typeflag): up to 4 (offset, numbytes) pairs in the header,
 *   more in 512-byte continuation blocks (21 pairs each) that follow the
 *   header before the data; the real size is in the header's `realsize`.
 * - PAX 0.0: repeated `GNU.sparse.offset` / `GNU.sparse.numbytes` records.
 * - PAX 0.1: one `GNU.sparse.map` record, "off,len,off,len,…".
 * - PAX 1.0: `GNU.sparse.major=1`, `minor=0`; the map is the start of the
 *   entry's data as decimal lines ("count\n" then "off\n" "len\n" pairs),
 *   padded to a 512-byte block; the real name is `GNU.sparse.name` and the
 *   real size `GNU.sparse.realsize`.
 *
 * In every case the stored data is the regions' bytes back to back, which is
 * exactly what FileEntry.sparse + body mean, so the data is passed through.
 */
import type { SparseRegion } from './entry.js';
import { decodePaxInteger, type PaxRecord } from './pax.js';

/** A map longer than this is treated as hostile (each region costs memory until the entry is written). */
export const MAX_SPARSE_REGIONS = 1 << 20;

export class SparseError extends Error {}

export interface PaxSparseInfo {
  /** '1.0' means the map is still to be read from the data. */
  version: '0.0' | '0.1' | '1.0';
  regions: SparseRegion[];
  realSize: number;
  /** GNU.sparse.name: the real path (1.0; 0.1 writers may set it too). */
  name?: Buffer;
}

function int(rec: PaxRecord): number {
  const n = decodePaxInteger(rec.value);
  if (n === undefined || n < 0) throw new SparseError(`invalid ${rec.key}`);
  return n;
}

/** Interpret the GNU.sparse.* PAX records; `undefined` when there are none (not a sparse file). */
export function sparseFromPax(records: PaxRecord[]): PaxSparseInfo | undefined {
  if (records.length === 0) return undefined;
  let major: number | undefined;
  let minor: number | undefined;
  let realSize: number | undefined;
  let name: Buffer | undefined;
  let map: Buffer | undefined;
  const pairs: SparseRegion[] = [];
  let pendingOffset: number | undefined;
  for (const rec of records) {
    switch (rec.key) {
      case 'GNU.sparse.major':
        major = int(rec);
        break;
      case 'GNU.sparse.minor':
        minor = int(rec);
        break;
      case 'GNU.sparse.size':
      case 'GNU.sparse.realsize':
        realSize = int(rec);
        break;
      case 'GNU.sparse.name':
        name = rec.value;
        break;
      case 'GNU.sparse.map':
        map = rec.value;
        break;
      case 'GNU.sparse.offset':
        if (pendingOffset !== undefined) throw new SparseError('GNU.sparse.offset without numbytes');
        pendingOffset = int(rec);
        break;
      case 'GNU.sparse.numbytes':
        if (pendingOffset === undefined) throw new SparseError('GNU.sparse.numbytes without offset');
        pairs.push({ offset: pendingOffset, length: int(rec) });
        pendingOffset = undefined;
        if (pairs.length > MAX_SPARSE_REGIONS) throw new SparseError('too many sparse regions');
        break;
      // GNU.sparse.numblocks is redundant with the map itself.
    }
  }
  if (pendingOffset !== undefined) throw new SparseError('GNU.sparse.offset without numbytes');
  if (major === 1 && (minor ?? 0) === 0) {
    if (realSize === undefined) throw new SparseError('GNU.sparse.realsize missing');
    return { version: '1.0', regions: [], realSize, name };
  }
  if (major !== undefined && major !== 0) throw new SparseError(`unsupported GNU sparse version ${major}.${minor ?? 0}`);
  if (map !== undefined) {
    if (realSize === undefined) throw new SparseError('GNU.sparse.size missing');
    return { version: '0.1', regions: parseMapList(map.toString('latin1')), realSize, name };
  }
  if (pairs.length > 0 || realSize !== undefined) {
    if (realSize === undefined) throw new SparseError('GNU.sparse.size missing');
    return { version: '0.0', regions: pairs, realSize, name };
  }
  // Only unrelated GNU.sparse.* keys: not a sparse file.
  return undefined;
}

/** "off,len,off,len" → regions (0.1). */
function parseMapList(text: string): SparseRegion[] {
  if (text === '') return [];
  const parts = text.split(',');
  if (parts.length % 2 !== 0) throw new SparseError('GNU.sparse.map has an odd number of values');
  if (parts.length / 2 > MAX_SPARSE_REGIONS) throw new SparseError('too many sparse regions');
  const regions: SparseRegion[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    regions.push({ offset: decimal(parts[i]!), length: decimal(parts[i + 1]!) });
  }
  return regions;
}

function decimal(text: string): number {
  if (!/^[0-9]{1,16}$/.test(text)) throw new SparseError(`invalid sparse map number '${text.slice(0, 20)}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new SparseError('sparse map number too large');
  return n;
}

/**
 * Incremental parser for the 1.0 in-data map. Feed it 512-byte blocks until
 * `done`; the map always ends on a block boundary, and the data follows.
 */
export class Sparse10MapParser {
  private text = '';
  private count: number | undefined;
  private numbers: number[] = [];
  blocksConsumed = 0;
  done = false;
  regions: SparseRegion[] = [];

  push(block: Buffer): void {
    this.blocksConsumed++;
    this.text += block.toString('latin1');
    for (;;) {
      const nl = this.text.indexOf('\n');
      if (nl === -1) break;
      const line = this.text.slice(0, nl);
      this.text = this.text.slice(nl + 1);
      const n = decimal(line);
      if (this.count === undefined) {
        if (n > MAX_SPARSE_REGIONS) throw new SparseError('too many sparse regions');
        this.count = n;
      } else this.numbers.push(n);
      if (this.numbers.length === this.count * 2) {
        for (let i = 0; i < this.numbers.length; i += 2) this.regions.push({ offset: this.numbers[i]!, length: this.numbers[i + 1]! });
        this.done = true;
        return;
      }
    }
    // A line can never be this long: the block is not a map.
    if (this.text.length > 64) throw new SparseError('malformed GNU sparse 1.0 map');
  }
}

/**
 * Check a map against the real size and the stored byte count, and drop
 * zero-length regions (GNU tar ends every map with one at the real size).
 * Regions must be ascending and disjoint: the body is their bytes in order.
 */
export function normaliseSparse(regions: SparseRegion[], realSize: number, storedSize: number): SparseRegion[] {
  const out: SparseRegion[] = [];
  let end = 0;
  let total = 0;
  for (const r of regions) {
    if (r.offset < end) throw new SparseError('sparse regions overlap or are out of order');
    if (r.offset + r.length > realSize) throw new SparseError('sparse region past the end of the file');
    end = r.offset + r.length;
    total += r.length;
    if (r.length > 0) out.push({ offset: r.offset, length: r.length });
  }
  if (total !== storedSize) throw new SparseError(`sparse map describes ${total} bytes but the entry stores ${storedSize}`);
  return out;
}
