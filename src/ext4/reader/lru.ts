/**
 * A least-recently-used cache bounded by weight (bytes, entries, runs: what
 * the caller says a value costs), not by count: a hostile image can make any
 * one value large, and a count-bounded cache of large values is unbounded.
 * The newest value stays even when it alone is over the budget, so the
 * caller always gets back what it just computed.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private total = 0;

  constructor(
    private readonly budget: number,
    private readonly weigh: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    const hit = this.map.get(key);
    if (hit === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.weigh(value);
    this.map.set(key, { value, weight });
    this.total += weight;
    for (const [oldest, { weight: w }] of this.map) {
      if (this.total <= this.budget || oldest === key) break;
      this.map.delete(oldest);
      this.total -= w;
    }
  }

  private delete(key: K): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.map.delete(key);
    this.total -= old.weight;
  }
}
