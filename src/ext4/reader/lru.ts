/**
 * A cache bounded by weight (bytes, entries, runs: what the caller says a
 * value costs), not by count: a hostile image can make any one value large,
 * and a count-bounded cache of large values is unbounded.
 *
 * Two generations rather than a strict LRU list: values go into the young
 * map; when it holds half the budget it becomes the old one and the
 * previous old one is dropped; a hit in the old map moves the value back to
 * the young one. Every step is O(1). (Evicting one by one from the front of
 * a Map is not: V8 skips the deleted slots on every iteration, which made a
 * million-file walk spend two thirds of its time evicting.)
 */
export class Lru<K, V> {
  private young = new Map<K, { value: V; weight: number }>();
  private old = new Map<K, { value: V; weight: number }>();
  private youngWeight = 0;

  constructor(
    private readonly budget: number,
    private readonly weigh: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit.value;
    const aged = this.old.get(key);
    if (aged === undefined) return undefined;
    this.old.delete(key);
    this.put(key, aged);
    return aged.value;
  }

  set(key: K, value: V): void {
    this.old.delete(key);
    const prev = this.young.get(key);
    if (prev !== undefined) {
      this.young.delete(key);
      this.youngWeight -= prev.weight;
    }
    this.put(key, { value, weight: this.weigh(value) });
  }

  private put(key: K, entry: { value: V; weight: number }): void {
    if (this.youngWeight + entry.weight > this.budget / 2 && this.young.size > 0) {
      this.old = this.young;
      this.young = new Map();
      this.youngWeight = 0;
    }
    this.young.set(key, entry);
    this.youngWeight += entry.weight;
  }
}
