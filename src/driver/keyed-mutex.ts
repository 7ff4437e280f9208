/**
 * One mutex per key (layer id), created on demand and dropped when idle, so
 * that create/remove/applyDiff/get/put of one layer are serialised without a
 * global lock around anybody's I/O.
 */
import { Mutex } from 'async-mutex';

export class KeyedMutex {
  private readonly locks = new Map<string, { mutex: Mutex; users: number }>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let slot = this.locks.get(key);
    if (!slot) {
      slot = { mutex: new Mutex(), users: 0 };
      this.locks.set(key, slot);
    }
    slot.users++;
    try {
      return await slot.mutex.runExclusive(fn);
    } finally {
      if (--slot.users === 0) this.locks.delete(key);
    }
  }
}
