/**
 * What keeps one walk over a hostile image proportional to the image rather
 * than to what its metadata claims. ext4 cannot hard-link a directory, and
 * shares no data, directory or extent block between two inodes (no
 * reflinks; only xattr blocks are shared, and those are capped per inode), so:
 *
 * - a directory entered twice is EBADIMAGE: a cycle, or one directory under
 *   many names, which used to spin `changes` until it was killed;
 * - a block claimed twice as directory or file data is EBADIMAGE: many
 *   inodes mapping the same blocks would otherwise multiply the work (a diff
 *   of a 1 GiB image could stream terabytes);
 * - the directory entries a walk holds at once (the listings of the
 *   directories on its current path, in every image it walks together) are
 *   capped at MAX_HELD_ENTRIES, about 200 MiB of heap: past that, ETOOBIG.
 *   A million-entry directory is half of it.
 *
 * Together: a walk reads each directory block and each data block of the
 * volume at most once, and its memory is bounded whatever the image. The
 * entered directories and claimed blocks are bitmaps allocated in chunks as
 * they are touched: at most inodesCount / 8 + blocksCount / 8 bytes (about
 * 200 KiB per GiB of a 4 KiB-block volume).
 */
import { LcowError } from '../../errors.js';
import type { MappedRun } from './file-map.js';

/** Directory entries one walk may hold in memory at once, about 100 bytes each. */
export const MAX_HELD_ENTRIES = 2 ** 21;

/** A set of numbers below 2^53 as a bitmap allocated 4 KiB at a time, where numbers are set. */
class ChunkedBitmap {
  private static readonly BITS = 32768;
  private readonly chunks = new Map<number, Uint8Array>();

  /** Set `n`; false when it was set already. */
  add(n: number): boolean {
    const index = Math.floor(n / ChunkedBitmap.BITS);
    let chunk = this.chunks.get(index);
    if (chunk === undefined) {
      chunk = new Uint8Array(ChunkedBitmap.BITS / 8);
      this.chunks.set(index, chunk);
    }
    const bit = n % ChunkedBitmap.BITS;
    const mask = 1 << (bit & 7);
    if (chunk[bit >> 3]! & mask) return false;
    chunk[bit >> 3]! |= mask;
    return true;
  }
}

/**
 * The directory entries held at once, counted across every image one
 * operation walks (a diff of a layer walks its parents alongside, and each
 * may hold a big directory at the same path).
 */
export class HeldEntries {
  private count = 0;

  /** Check that `extra` more entries may be held (while a listing is read); ETOOBIG past the cap. */
  check(extra: number, path: string): void {
    if (this.count + extra > MAX_HELD_ENTRIES) {
      throw new LcowError('ETOOBIG', `${path}: the directories on this path hold more than ${MAX_HELD_ENTRIES} entries`, {
        path,
        max: MAX_HELD_ENTRIES,
      });
    }
  }

  hold(count: number, path: string): void {
    this.check(count, path);
    this.count += count;
  }

  release(count: number): void {
    this.count = Math.max(0, this.count - count);
  }
}

export class WalkBudget {
  private readonly entered = new ChunkedBitmap();
  private readonly claimed = new ChunkedBitmap();

  /** `held`: shared by the budgets of all images one operation walks. */
  constructor(private readonly held = new HeldEntries()) {}

  /** Called once for every directory the walk lists. */
  enterDirectory(ino: number, path: string): void {
    if (!this.entered.add(ino)) {
      throw new LcowError('EBADIMAGE', `directory inode ${ino} is reached a second time at ${path}: a cycle or a hard-linked directory`, {
        inode: ino,
        path,
      });
    }
  }

  /** Claim every block `runs` map (uninitialised ones too: they are allocated) for inode `ino`. */
  claim(ino: number, runs: readonly MappedRun[]): void {
    for (const r of runs) {
      for (let b = r.physical; b < r.physical + r.length; b++) {
        if (!this.claimed.add(b)) throw new LcowError('EBADIMAGE', `block ${b} belongs to inode ${ino} and to another inode`, { inode: ino, block: b });
      }
    }
  }

  /** Check that `count` more entries may be held (while a listing is read); ETOOBIG past the cap. */
  checkHold(count: number, path: string): void {
    this.held.check(count, path);
  }

  /** A listing of `count` entries is now held. */
  hold(count: number, path: string): void {
    this.held.hold(count, path);
  }

  /** The walk is done with a listing of `count` entries. */
  release(count: number): void {
    this.held.release(count);
  }
}
