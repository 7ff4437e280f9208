import { describe, expect, it } from 'vitest';
import { checksumMatches, decodeHeader, encodeHeader, unsignedChecksum } from '../../src/tar/header.js';

function header(name: string): Buffer {
  return encodeHeader({ name, typeflag: '0', mode: 0o644, uid: 1, gid: 2, size: 3, mtimeSec: 4, linkname: '', devmajor: 0, devminor: 0 });
}

/** The checksum the way the format defines it: every byte, the field itself as eight spaces. */
function byteSum(b: Buffer, signed: boolean): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!;
    sum += signed && v > 127 ? v - 256 : v;
  }
  return sum;
}

function store(b: Buffer, sum: number): Buffer {
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

describe('tar header checksum', () => {
  it('the word-wise sum equals the byte sum, aligned or not, whatever the bytes', () => {
    const backing = Buffer.alloc(512 * 3 + 1);
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + round * 977) & 0xff;
      if (round % 3 === 0) backing.fill(0xff); // the lanes' worst case
      for (const offset of [0, 1, 512, 513, 1024]) {
        const block = backing.subarray(offset, offset + 512);
        expect(unsignedChecksum(block)).toBe(byteSum(block, false));
      }
    }
  });

  it('accepts the unsigned and the historic signed sum, and nothing else', () => {
    const b = header('ünïcödé-name-with-high-bytes');
    expect(checksumMatches(b)).toBe(true);
    expect(decodeHeader(b).size).toBe(3);
    store(b, byteSum(b, true));
    expect(byteSum(b, true)).not.toBe(byteSum(b, false));
    expect(checksumMatches(b)).toBe(true);
    store(b, byteSum(b, false) + 1);
    expect(checksumMatches(b)).toBe(false);
    b.fill(0, 148, 156);
    expect(checksumMatches(b)).toBe(false);
  });
});
