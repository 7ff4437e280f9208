/**
 * Block and inode bitmaps: one 4 KiB block per group, bit n = block (or
 * inode) n of the group. The bits past the group's real end — blocks beyond
 * the last block of the file system in the last group, inodes beyond
 * s_inodes_per_group in every group — must be SET: e2fsck reports "Padding
 * at end of … bitmap is not set" otherwise (the reference converter's bug).
 */
import { BLOCK_SIZE } from './constants.js';

const BITS_PER_MAP = BLOCK_SIZE * 8;

export class GroupBitmaps {
  /** The on-disk bitmaps of all groups, back to back. */
  readonly data: Buffer;

  constructor(readonly groups: number) {
    this.data = Buffer.alloc(groups * BLOCK_SIZE);
  }

  /** Mark items [start, start+count) used; item numbers are global (group * 32768 + bit). */
  setRange(start: number, count: number): void {
    let i = start;
    const end = start + count;
    while (i < end && i % 8 !== 0) this.setBit(i++);
    const wholeBytes = Math.floor((end - i) / 8);
    if (wholeBytes > 0) {
      this.data.fill(0xff, i / 8, i / 8 + wholeBytes);
      i += wholeBytes * 8;
    }
    while (i < end) this.setBit(i++);
  }

  setBit(i: number): void {
    this.data[i >>> 3]! |= 1 << (i & 7); // callers stay below the bitmaps' capacity
  }

  isSet(i: number): boolean {
    return ((this.data[i >>> 3] ?? 0) & (1 << (i & 7))) !== 0;
  }

  /** Set the padding bits of `group` from bit `validBits` (its item count) to the end of its bitmap block. */
  padGroup(group: number, validBits: number): void {
    if (validBits < BITS_PER_MAP) this.setRange(group * BITS_PER_MAP + validBits, BITS_PER_MAP - validBits);
  }

  /** Used items among the first `validBits` of `group`. */
  countUsed(group: number, validBits: number): number {
    let n = 0;
    const base = group * BLOCK_SIZE;
    const fullBytes = validBits >>> 3;
    for (let b = 0; b < fullBytes; b++) n += POPCOUNT[this.data[base + b] ?? 0] ?? 0;
    for (let bit = fullBytes * 8; bit < validBits; bit++) if (this.isSet(group * BITS_PER_MAP + bit)) n++;
    return n;
  }

  /** The bitmap block of one group. */
  groupBlock(group: number): Buffer {
    return this.data.subarray(group * BLOCK_SIZE, (group + 1) * BLOCK_SIZE);
  }
}

const POPCOUNT = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});
