import { describe, expect, it } from 'vitest';
import { DirectoryScratch } from '../../../src/ext4/writer/node-metadata.js';

describe('DirectoryScratch', () => {
  it('hands out zeroed bytes, reusing one buffer while it is big enough', () => {
    const s = new DirectoryScratch();
    const a = s.take(8192);
    expect(a.every((b) => b === 0)).toBe(true);
    a.fill(0xff);
    const b = s.take(4096);
    expect(b.buffer).toBe(a.buffer);
    expect(b.every((x) => x === 0)).toBe(true);
    const big = s.take(1 << 20);
    expect(big.length).toBe(1 << 20);
    expect(big.every((x) => x === 0)).toBe(true);
  });
});
