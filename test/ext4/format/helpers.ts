/** Shared by the format tests: bounded property runs, arbitraries, and a typed-error assertion. */
import fc from 'fast-check';
import { expect } from 'vitest';
import { MAX_EXT4_SECONDS, MIN_EXT4_SECONDS, type Timestamp } from '../../../src/ext4/format/timestamps.js';

/** Bounded property runs: these must stay fast (each file runs in a second or two). */
export const RUNS = { numRuns: 200 } as const;

/** Assert that `fn` throws an error whose `.code` is `code`; returns the error. */
export function expectCode(fn: () => unknown, code: string): Error & { code: string; context: Record<string, unknown> } {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected an error with code ${code}`).toBeInstanceOf(Error);
  expect((caught as { code?: unknown }).code).toBe(code);
  return caught as Error & { code: string; context: Record<string, unknown> };
}

export const arbTimestamp: fc.Arbitrary<Timestamp> = fc.record({
  sec: fc.integer({ min: MIN_EXT4_SECONDS, max: MAX_EXT4_SECONDS }),
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
});

export const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a));
