/** Inode timestamps: the encoder against the decoder the reader uses, and against hand-computed words. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_EXT4_SECONDS, MIN_EXT4_SECONDS, decodeTime, encodeTime, type Timestamp } from '../../../src/ext4/format/timestamps.js';
import { RUNS, arbTimestamp } from './helpers.js';

describe('timestamps (encodeTime / decodeTime)', () => {
  it('exports the 34-bit range 1901-12-13 .. 2446-05-10', () => {
    expect(MIN_EXT4_SECONDS).toBe(-(2 ** 31));
    expect(MAX_EXT4_SECONDS).toBe(2 ** 34 - 2 ** 31 - 1);
    expect(new Date(MIN_EXT4_SECONDS * 1000).toISOString()).toBe('1901-12-13T20:45:52.000Z');
    expect(new Date(MAX_EXT4_SECONDS * 1000).toISOString().slice(0, 10)).toBe('2446-05-10');
  });

  it('round-trips every representable second with every nanosecond value', () => {
    fc.assert(
      fc.property(arbTimestamp, (t) => {
        const e = encodeTime(t);
        expect(Number.isInteger(e.lo) && e.lo >= 0 && e.lo < 2 ** 32).toBe(true);
        expect(Number.isInteger(e.extra) && e.extra >= 0 && e.extra < 2 ** 32).toBe(true);
        // Upper 30 bits: nanoseconds; low 2 bits: epoch, so sec = (s32)lo + epoch * 2^32.
        expect(e.extra >>> 2).toBe(t.nsec);
        expect((e.lo | 0) + (e.extra & 3) * 2 ** 32).toBe(t.sec);
        expect(decodeTime(e.lo, e.extra)).toEqual(t);
      }),
      RUNS,
    );
  });

  it('round-trips the boundaries of each epoch', () => {
    const secs = [MIN_EXT4_SECONDS, -1, 0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 2 ** 31, 2 ** 33, 3 * 2 ** 32, MAX_EXT4_SECONDS];
    for (const sec of secs) {
      for (const nsec of [0, 1, 250_000_000, 999_999_999]) {
        const e = encodeTime({ sec, nsec });
        expect(decodeTime(e.lo, e.extra), `${sec}.${nsec}`).toEqual({ sec, nsec });
      }
    }
  });

  // Hand-computed words (kernel: extra = ((sec - (s32)sec) >> 32) & 3 | nsec << 2).
  it.each([
    { name: 'pre-1970 with nanoseconds (-0.75 s = -1 s + 250 ms)', sec: -1, nsec: 250_000_000, lo: 0xffffffff, extra: 250_000_000 * 4 },
    { name: 'the oldest time', sec: MIN_EXT4_SECONDS, nsec: 0, lo: 0x80000000, extra: 0 },
    { name: 'the epoch', sec: 0, nsec: 0, lo: 0, extra: 0 },
    { name: 'the last second of signed 32-bit time', sec: 2 ** 31 - 1, nsec: 0, lo: 0x7fffffff, extra: 0 },
    { name: '2038 (2^31)', sec: 2 ** 31, nsec: 0, lo: 0x80000000, extra: 1 },
    { name: '2^32 + 5', sec: 2 ** 32 + 5, nsec: 0, lo: 5, extra: 1 },
    { name: '2^33 with 1 ns', sec: 2 ** 33, nsec: 1, lo: 0, extra: 2 | (1 << 2) },
    { name: 'the newest time', sec: MAX_EXT4_SECONDS, nsec: 999_999_999, lo: 0x7fffffff, extra: 3 + 999_999_999 * 4 },
  ])('encodes $name', ({ sec, nsec, lo, extra }) => {
    expect(encodeTime({ sec, nsec })).toEqual({ lo, extra });
    expect(decodeTime(lo, extra)).toEqual({ sec, nsec });
  });

  it('decodes the words mke2fs 1.47 writes for 1969-12-31 23:59:58 (lo 0xfffffffe, extra 0)', () => {
    // mke2fs -d does not store nanoseconds (its extra word is 0), so the .25 s is not on disk.
    expect(decodeTime(0xfffffffe, 0)).toEqual({ sec: -2, nsec: 0 });
  });

  it('decodes epoch 3 with a negative low word as the kernel does (2446, not 1969)', () => {
    // Old kernels wrote pre-1970 times with epoch 3; the current kernel reads that as 2446.
    expect(decodeTime(0xffffffff, 3).sec).toBe(3 * 2 ** 32 - 1);
  });

  it('clamps out-of-range seconds and rejects bad nanoseconds', () => {
    const rt = (t: Timestamp) => {
      const e = encodeTime(t);
      return decodeTime(e.lo, e.extra);
    };
    expect(rt({ sec: MIN_EXT4_SECONDS - 1, nsec: 5 })).toEqual({ sec: MIN_EXT4_SECONDS, nsec: 0 });
    expect(rt({ sec: -1e12, nsec: 5 })).toEqual({ sec: MIN_EXT4_SECONDS, nsec: 0 });
    expect(rt({ sec: MAX_EXT4_SECONDS + 1, nsec: 5 })).toEqual({ sec: MAX_EXT4_SECONDS, nsec: 999_999_999 });
    expect(rt({ sec: 1e12, nsec: 0 })).toEqual({ sec: MAX_EXT4_SECONDS, nsec: 999_999_999 });
    expect(rt({ sec: 10, nsec: -1 })).toEqual({ sec: 10, nsec: 0 });
    expect(rt({ sec: 10, nsec: 1e9 })).toEqual({ sec: 10, nsec: 0 });
    expect(rt({ sec: 10, nsec: Number.NaN })).toEqual({ sec: 10, nsec: 0 });
    expect(rt({ sec: 10.9, nsec: 7.5 })).toEqual({ sec: 10, nsec: 7 });
  });
});
