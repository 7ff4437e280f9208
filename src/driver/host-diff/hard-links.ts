/**
 * Multiply-linked inodes met on a walk: the first name in sorted pre-order
 * is remembered until the inode's last name (by i_links_count) has been met,
 * so that later names can point at it (diff) or be skipped (diffSize).
 *
 * A hostile image can claim two links for a million inodes and give each
 * one name, so the records pending at once are capped (ETOOBIG), at about
 * 150 MiB of heap; real layers have thousands.
 */
import { LcowError } from '../../errors.js';
import type { LayerStat } from './layer-fs.js';

export const MAX_PENDING_LINKS = 2 ** 20;

export class HardLinks<T> {
  private readonly firsts = new Map<number, { value: T; namesLeft: number }>();

  constructor(private readonly max = MAX_PENDING_LINKS) {}

  /** What was recorded for this inode's first name, or undefined (and `value` is recorded as the first). */
  earlier(stat: Pick<LayerStat, 'inode' | 'nlink'>, value: T): T | undefined {
    const first = this.firsts.get(stat.inode);
    if (first === undefined) {
      if (this.firsts.size >= this.max) {
        throw new LcowError('ETOOBIG', `more than ${this.max} hard-linked files wait for their other names`, { max: this.max });
      }
      this.firsts.set(stat.inode, { value, namesLeft: stat.nlink - 1 });
      return undefined;
    }
    if (--first.namesLeft <= 0) this.firsts.delete(stat.inode);
    return first.value;
  }
}
