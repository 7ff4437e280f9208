/** The reader's caches: bounded by weight, O(1) per step, the newest value always kept. */
import { describe, expect, it } from 'vitest';
import { Lru } from '../../../src/ext4/reader/lru.js';

describe('Lru (two generations, by weight)', () => {
  it('keeps recent values within the budget and drops the oldest generation', () => {
    const c = new Lru<number, string>(10, (v) => v.length);
    for (let i = 0; i < 100; i++) c.set(i, 'xx');
    let kept = 0;
    for (let i = 0; i < 100; i++) if (c.get(i) !== undefined) kept++;
    expect(kept).toBeLessThanOrEqual(6); // at most the budget's worth (two halves) plus one
    expect(c.get(99)).toBe('xx');
  });

  it('a hit in the old generation survives the next turnover', () => {
    const c = new Lru<string, number>(4, () => 1);
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3); // a, b become old
    expect(c.get('a')).toBe(1); // back to young
    c.set('d', 4);
    c.set('e', 5); // turnover: young (c, a, d) becomes old, b is dropped
    expect(c.get('a')).toBe(1);
    expect(c.get('b')).toBeUndefined();
  });

  it('a value heavier than the whole budget is still returned until the next one arrives', () => {
    const c = new Lru<number, Buffer>(100, (b) => b.length);
    c.set(1, Buffer.alloc(1000));
    expect(c.get(1)).toHaveLength(1000);
  });

  it('a million sets stay fast (no per-eviction scan)', () => {
    const c = new Lru<number, number>(1000, () => 1);
    const t = performance.now();
    for (let i = 0; i < 1_000_000; i++) c.set(i, i);
    expect(performance.now() - t).toBeLessThan(2000);
  });
});
