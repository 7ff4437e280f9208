import { asError } from '../errors.js';

/**
 * Resources whose rollback failed and that no handle owns any more.
 *
 * When an add fails halfway (say the mount failed) we undo the first half;
 * if that undo fails too, the caller gets the original error and no handle,
 * so nobody could ever release the half-made resource and its slot would be
 * lost. Instead it is adopted here and retried: before every later add (a
 * transient fault heals by itself) and whenever the owner calls
 * `UtilityVM.releaseOrphans()`. A VM that stops takes them all with it.
 */
export class Orphans {
  private readonly pending = new Set<{ what: string; release: () => Promise<void> }>();

  adopt(what: string, release: () => Promise<void>): void {
    this.pending.add({ what, release });
  }

  get size(): number {
    return this.pending.size;
  }

  /** Try every orphan once; the ones that succeed are forgotten. Rejects with the first failure. */
  async retry(): Promise<void> {
    let first: unknown;
    for (const o of [...this.pending]) {
      try {
        await o.release();
        this.pending.delete(o);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw asError(first);
  }

  /** retry() without the error: for the start of an add, where the add's own outcome is what matters. */
  async retryQuietly(): Promise<void> {
    if (this.pending.size > 0) await this.retry().catch(() => undefined);
  }
}
