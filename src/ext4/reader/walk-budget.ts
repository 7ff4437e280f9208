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
 *   of a 1 GiB image could stream terabytes).
 *
 * Together: a walk reads each directory block and each data block of the
 * volume at most once. The claims are a bitmap over the volume, allocated in
 * chunks as blocks are claimed: at most blocksCount / 8 bytes (32 KiB per
 * GiB of volume with 4 KiB blocks).
 */
import { LcowError } from '../../errors.js';
import type { MappedRun } from './file-map.js';

/** Blocks per bitmap chunk (a 4 KiB chunk covers 128 MiB of a 4 KiB-block volume). */
const CHUNK_BITS = 32768;

export class WalkBudget {
  private readonly entered = new Set<number>();
  private readonly chunks = new Map<number, Uint8Array>();

  /** Called once for every directory the walk lists. */
  enterDirectory(ino: number, path: string): void {
    if (this.entered.has(ino)) {
      throw new LcowError('EBADIMAGE', `directory inode ${ino} is reached a second time at ${path}: a cycle or a hard-linked directory`, {
        inode: ino,
        path,
      });
    }
    this.entered.add(ino);
  }

  /** Claim every block `runs` map (uninitialised ones too: they are allocated) for inode `ino`. */
  claim(ino: number, runs: readonly MappedRun[]): void {
    for (const r of runs) {
      for (let b = r.physical; b < r.physical + r.length; b++) {
        const chunkIndex = Math.floor(b / CHUNK_BITS);
        let chunk = this.chunks.get(chunkIndex);
        if (chunk === undefined) {
          chunk = new Uint8Array(CHUNK_BITS / 8);
          this.chunks.set(chunkIndex, chunk);
        }
        const bit = b % CHUNK_BITS;
        const mask = 1 << (bit & 7);
        if (chunk[bit >> 3]! & mask) {
          throw new LcowError('EBADIMAGE', `block ${b} belongs to inode ${ino} and to another inode`, { inode: ino, block: b });
        }
        chunk[bit >> 3]! |= mask;
      }
    }
  }
}
