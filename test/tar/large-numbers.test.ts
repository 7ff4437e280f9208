import { describe, expect, it } from 'vitest';
import { parseBase256, parseNumeric, parseOctal } from '../../src/tar/large-numbers.js';

const field = (s: string, len: number) => Buffer.from(s.padEnd(len, '\0'), 'latin1');

describe('numeric header fields', () => {
  it('reads octal with the usual terminators and padding', () => {
    expect(parseOctal(field('0000644 ', 8))).toBe(0o644);
    expect(parseOctal(field('  17777777777', 12))).toBe(0o17777777777);
    expect(parseOctal(field('755\0', 8))).toBe(0o755);
    expect(parseOctal(Buffer.alloc(8))).toBe(0);
    expect(parseOctal(Buffer.from('        '))).toBe(0);
  });
  it('rejects non-octal digits and junk after the terminator', () => {
    expect(parseOctal(field('0000844', 8))).toBeUndefined();
    expect(parseOctal(field('12 3', 8))).toBeUndefined();
  });
  it('decodes base-256, positive and negative (two’s complement)', () => {
    const pos = Buffer.alloc(12);
    pos[0] = 0x80;
    pos.writeUIntBE(4294967294, 6, 6);
    expect(parseBase256(pos)).toBe(4294967294);
    expect(parseNumeric(pos)).toBe(4294967294);
    expect(parseBase256(Buffer.alloc(12, 0xff))).toBe(-1);
    const neg = Buffer.alloc(12, 0xff);
    neg.writeIntBE(-86400 * 365, 6, 6);
    expect(parseNumeric(neg)).toBe(-86400 * 365);
    // 8 GiB size as GNU tar writes it
    const big = Buffer.alloc(12);
    big[0] = 0x80;
    big.writeUIntBE(8 * 2 ** 30, 6, 6);
    expect(parseNumeric(big)).toBe(8 * 2 ** 30);
  });
  it('reports values beyond 2^53 as undefined rather than rounding', () => {
    const huge = Buffer.alloc(12);
    huge[0] = 0x80;
    huge[3] = 0x01; // 2^64
    expect(parseBase256(huge)).toBeUndefined();
  });
});
