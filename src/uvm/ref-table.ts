/**
 * Reference-counted resources keyed by what makes two requests "the same"
 * (an attachment by host path + read-only, a guest mount by device + options,
 * a union by target). Every manager in uvm/ keeps its state in one of these.
 *
 * - acquire: an existing entry gains a reference; one still being created is
 *   waited for and its result *or error* shared (in-flight deduplication); a
 *   failed creation is forgotten, so the next request starts afresh.
 * - release: the last reference runs `destroy`. The entry leaves the key index
 *   before destroy starts, so nobody new can share a resource on its way out;
 *   a request for the same key waits until that destroy attempt settles.
 * - A failed destroy gives the reference back to the caller (refs 1, still out
 *   of the index): the caller's handle stays unreleased and may retry, and
 *   `destroy` resumes from the step that failed (it keeps its own progress).
 */
export interface RefEntry<V> {
  readonly key: string;
  /** References held, including requests still waiting for creation. */
  refs: number;
  /** Set once creation succeeded. */
  value: V;
}

interface Slot<V> extends RefEntry<V> {
  creating?: Promise<V>;
}

export class RefTable<V> {
  private readonly live = new Map<string, Slot<V>>();
  private readonly draining = new Map<string, Promise<void>>();

  /** Entries that can currently be shared (created, or being created). */
  values(): V[] {
    return [...this.live.values()].filter((e) => e.creating === undefined).map((e) => e.value);
  }

  get size(): number {
    return this.live.size;
  }

  find(key: string): RefEntry<V> | undefined {
    const e = this.live.get(key);
    return e && e.creating === undefined ? e : undefined;
  }

  async acquire(key: string, create: () => Promise<V>): Promise<RefEntry<V>> {
    for (;;) {
      const drain = this.draining.get(key);
      if (drain) {
        await drain;
        continue;
      }
      const existing = this.live.get(key);
      if (existing) {
        existing.refs++;
        if (existing.creating) await existing.creating; // shares the creator's error too
        return existing;
      }
      const slot: Slot<V> = { key, refs: 1, value: undefined as V };
      const creating = create();
      slot.creating = creating;
      this.live.set(key, slot);
      try {
        slot.value = await creating;
        slot.creating = undefined;
        return slot;
      } catch (err) {
        if (this.live.get(key) === slot) this.live.delete(key);
        throw err;
      }
    }
  }

  async release(entry: RefEntry<V>, destroy: (value: V) => Promise<void>): Promise<void> {
    if (entry.refs <= 0) throw new Error(`internal: release of ${entry.key} with no references`);
    entry.refs--;
    if (entry.refs > 0) return;
    if (this.live.get(entry.key) === entry) this.live.delete(entry.key);
    const attempt = destroy(entry.value);
    const settled = attempt.then(
      () => undefined,
      () => undefined,
    );
    this.draining.set(entry.key, settled);
    try {
      await attempt;
    } catch (err) {
      entry.refs++;
      throw err;
    } finally {
      if (this.draining.get(entry.key) === settled) this.draining.delete(entry.key);
    }
  }
}
