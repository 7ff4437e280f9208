/**
 * Names as bytes: the ByteString form and the exact text form
 * (surrogateescape) are inverses, UTF-8 names read as themselves, and names
 * that differ only in bytes that are not UTF-8 stay different.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteStringOf, bytesOf, bytesToText, joinBytePath, textByteLength, textToBuffer, textToBytes, writeText } from '../src/byte-names.js';

describe('byte names', () => {
  it('UTF-8 names are their own text; ASCII is its own ByteString', () => {
    for (const s of ['etc', 'café', '日本語', '😀', 'a\nb']) expect(bytesToText(byteStringOf(Buffer.from(s)))).toBe(s);
    expect(textToBytes('plain/ascii')).toBe('plain/ascii');
  });

  it('stray bytes become U+DC80..U+DCFF, so caf\\xe9 and caf\\xe8 stay two names, and come back exactly', () => {
    const e9 = bytesToText(byteStringOf(Buffer.from([0x63, 0x61, 0x66, 0xe9])));
    const e8 = bytesToText(byteStringOf(Buffer.from([0x63, 0x61, 0x66, 0xe8])));
    expect(e9).toBe('caf\udce9');
    expect(e8).toBe('caf\udce8');
    expect(textToBuffer(e9)).toEqual(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    // overlong encodings and encoded surrogates are not UTF-8 either
    expect(bytesToText(byteStringOf(Buffer.from([0xc0, 0xaf])))).toBe('\udcc0\udcaf');
    expect(bytesToText(byteStringOf(Buffer.from([0xed, 0xa0, 0x80])))).toBe('\udced\udca0\udc80');
    // a real astral character next to an escaped byte
    expect(textToBuffer('😀\udcff')).toEqual(Buffer.concat([Buffer.from('😀'), Buffer.from([0xff])]));
  });

  it('any bytes → text → the same bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        const b = Buffer.from(raw);
        const text = bytesToText(byteStringOf(b));
        expect(textToBuffer(text)).toEqual(b);
        expect(bytesOf(textToBytes(text))).toEqual(b);
      }),
      { numRuns: 2000 },
    );
  });

  it('ByteStrings sort in byte order, as tar output and changes need', () => {
    const names = [Buffer.from([0xe9]), Buffer.from('z'), Buffer.from('Z'), Buffer.from([0x80]), Buffer.from('a/b'), Buffer.from('a-b')];
    const sorted = names.map((b) => byteStringOf(b)).sort();
    expect(sorted.map((s) => bytesOf(s))).toEqual([...names].sort((a, b) => Buffer.compare(a, b)));
    expect(joinBytePath(textToBytes('/'), textToBytes('a'))).toBe('/a');
    expect(joinBytePath(textToBytes('/a'), textToBytes('b'))).toBe('/a/b');
  });

  it("writeText writes exactly textToBuffer's bytes where asked, and textByteLength counts them (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(16), (raw, at) => {
        const text = bytesToText(byteStringOf(Buffer.from(raw)));
        const want = textToBuffer(text);
        const out = Buffer.alloc(at + want.length + 4, 0xee);
        expect(writeText(text, out, at)).toBe(want.length);
        expect(textByteLength(text)).toBe(want.length);
        expect(out.subarray(at, at + want.length)).toEqual(want);
        expect(out.subarray(0, at).every((b) => b === 0xee) && out.subarray(at + want.length).every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
