/**
 * Directory blocks: the writer's encoder read back by the decoder the reader
 * uses (which is strict: a malformed entry is EBADIMAGE), the invariants the
 * kernel relies on (rec_len chains every block to its end), and the byte
 * offsets of ext4_dir_entry_2.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteStringOf, bytesOf, bytesToText, textByteLength, textToBuffer } from '../../../src/byte-names.js';
import { BLOCK_SIZE } from '../../../src/ext4/format/constants.js';
import {
  DirectoryEncoder,
  decodeDirectoryBlock,
  direntSize,
  directoryBlockCount,
  encodeDirectory,
  type DecodedDirEntry,
  type DirectoryEntry,
} from '../../../src/ext4/format/directory.js';
import type { FileKind } from '../../../src/ext4/format/inode.js';
import { RUNS } from './helpers.js';

/** Every block of a directory through the reader's decoder (filetype feature on, as the writer sets it). */
function decodeAll(data: Buffer): DecodedDirEntry[] {
  const out: DecodedDirEntry[] = [];
  for (let at = 0; at < data.length; at += BLOCK_SIZE) decodeDirectoryBlock(data.subarray(at, at + BLOCK_SIZE), true, 2, out);
  return out;
}

const decoded = (e: DirectoryEntry): DecodedDirEntry => ({ name: byteStringOf(e.name), ino: e.ino, kind: e.kind });

describe("directory blocks: encodeDirectory through the reader's decodeDirectoryBlock", () => {
  const ent = (name: string | Buffer, ino: number, kind: FileKind = 'file'): DirectoryEntry => ({
    name: typeof name === 'string' ? Buffer.from(name, 'utf8') : name,
    ino,
    kind,
  });
  const dots = (): DirectoryEntry[] => [ent('.', 2, 'dir'), ent('..', 2, 'dir')];

  /** Walk every block by rec_len and check the linear-directory invariants. */
  function checkBlocks(data: Buffer): void {
    expect(data.length % BLOCK_SIZE).toBe(0);
    for (let start = 0; start < data.length; start += BLOCK_SIZE) {
      let pos = start;
      let last = -1;
      while (pos < start + BLOCK_SIZE) {
        const recLen = data.readUInt16LE(pos + 4);
        const nameLen = data.readUInt8(pos + 6);
        expect(recLen % 4).toBe(0);
        expect(recLen).toBeGreaterThanOrEqual(direntSize(nameLen));
        last = pos;
        pos += recLen;
      }
      // The last record of each block spans exactly to the block's end.
      expect(pos).toBe(start + BLOCK_SIZE);
      expect(last + data.readUInt16LE(last + 4)).toBe(start + BLOCK_SIZE);
    }
  }

  it('direntSize is 8 header bytes plus the name, rounded up to 4', () => {
    expect(direntSize(0)).toBe(8);
    expect(direntSize(1)).toBe(12);
    expect(direntSize(2)).toBe(12);
    expect(direntSize(4)).toBe(12);
    expect(direntSize(5)).toBe(16);
    expect(direntSize(255)).toBe(264);
    for (let n = 0; n <= 255; n++) {
      const s = direntSize(n);
      expect(s % 4).toBe(0);
      expect(s - 8 - n).toBeGreaterThanOrEqual(0);
      expect(s - 8 - n).toBeLessThan(4);
    }
  });

  it('directoryBlockCount matches the length encodeDirectory produces (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 400 }), (lens) => {
        const entries = lens.map((n, i) => ent(Buffer.alloc(n, 0x61), 12 + i));
        expect(encodeDirectory(entries).length).toBe(directoryBlockCount(lens) * BLOCK_SIZE);
      }),
      RUNS,
    );
  });

  it('fills a block exactly to its end before starting the next', () => {
    // 341 one-byte names take 341 * 12 = 4092 bytes: one block; the 342nd needs a second.
    expect(directoryBlockCount(Array(341).fill(1))).toBe(1);
    expect(directoryBlockCount(Array(342).fill(1))).toBe(2);
    const data = encodeDirectory(Array.from({ length: 342 }, (_, i) => ent('x', 12 + i)));
    expect(data.length).toBe(2 * BLOCK_SIZE);
    expect(data.readUInt16LE(340 * 12 + 4)).toBe(BLOCK_SIZE - 340 * 12); // last of block 0: 16
    expect(data.readUInt32LE(BLOCK_SIZE)).toBe(12 + 341); // first of block 1
    expect(data.readUInt16LE(BLOCK_SIZE + 4)).toBe(BLOCK_SIZE); // alone: spans the whole block
    checkBlocks(data);
    // 255-byte names take 264 bytes: 15 per block.
    expect(directoryBlockCount(Array(15).fill(255))).toBe(1);
    expect(directoryBlockCount(Array(16).fill(255))).toBe(2);
    expect(directoryBlockCount([])).toBe(1);
  });

  it('round-trips names of 1 and 255 bytes and UTF-8 names', () => {
    const entries = [
      ...dots(),
      ent('a', 12),
      ent('x'.repeat(255), 13, 'dir'),
      ent('é'.repeat(127), 14, 'symlink'), // 254 bytes
      ent('日本語のファイル名', 15, 'char'),
      ent('😀'.repeat(63) + 'abc', 16, 'block'), // 255 bytes
      ent('fifo', 17, 'fifo'),
      ent('last', 0xfffffff0, 'socket'),
    ];
    for (const e of entries) expect(e.name.length).toBeLessThanOrEqual(255);
    const data = encodeDirectory(entries);
    checkBlocks(data);
    const back = decodeAll(data);
    expect(back).toEqual(entries.map(decoded));
    expect(bytesToText(back[4]!.name)).toBe('é'.repeat(127));
  });

  it('writes ext4_dir_entry_2 fields at their offsets', () => {
    const data = encodeDirectory([ent('.', 2, 'dir'), ent('..', 2, 'dir'), ent('hello', 77, 'file')]);
    expect(data.readUInt32LE(0)).toBe(2);
    expect(data.readUInt16LE(4)).toBe(12);
    expect(data.readUInt8(6)).toBe(1);
    expect(data.readUInt8(7)).toBe(2);
    expect(data.subarray(8, 9).toString()).toBe('.');
    expect(data.readUInt16LE(12 + 4)).toBe(12);
    expect(data.readUInt8(12 + 6)).toBe(2);
    expect(data.readUInt32LE(24)).toBe(77);
    expect(data.readUInt16LE(24 + 4)).toBe(BLOCK_SIZE - 24);
    expect(data.readUInt8(24 + 6)).toBe(5);
    expect(data.readUInt8(24 + 7)).toBe(1);
    expect(data.subarray(32, 37).toString()).toBe('hello');
  });

  it('round-trips arbitrary entries and keeps every block covered by rec_len (property)', () => {
    const arbEntry = fc.record({
      name: fc
        .string({ minLength: 1, maxLength: 80, unit: 'grapheme' })
        // what a kernel can write: no '/' or NUL, and '.' and '..' only in the first two places
        .filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..')
        .map((s) => Buffer.from(s, 'utf8'))
        .filter((b) => b.length <= 255),
      ino: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      kind: fc.constantFrom<FileKind>('file', 'dir', 'symlink', 'char', 'block', 'fifo', 'socket'),
    });
    fc.assert(
      fc.property(fc.array(arbEntry, { maxLength: 120 }), (entries) => {
        const data = encodeDirectory(entries);
        expect(data.length).toBe(directoryBlockCount(entries.map((e) => e.name.length)) * BLOCK_SIZE);
        if (entries.length === 0) return; // the writer never writes an empty directory ('.' and '..' at least)
        checkBlocks(data);
        expect(decodeAll(data)).toEqual(entries.map(decoded));
      }),
      { numRuns: 100 },
    );
  });

  it('an empty list is one zeroed block; decode skips entries with inode 0', () => {
    const empty = encodeDirectory([]);
    expect(empty).toEqual(Buffer.alloc(BLOCK_SIZE));
    expect(() => decodeAll(empty)).toThrow(/bad entry/); // rec_len 0: the reader's decoder is strict
    const data = encodeDirectory([ent('a', 12), ent('deleted', 0), ent('b', 13)]);
    expect(decodeAll(data).map((e) => e.name)).toEqual(['a', 'b']);
  });

  it('without the filetype feature name_len is 16 bits and no kind is known', () => {
    const data = encodeDirectory([ent('abc', 12, 'symlink')]);
    data.writeUInt8(0, 7); // what an ext2 volume without filetype stores there
    const out: DecodedDirEntry[] = [];
    decodeDirectoryBlock(data, false, 2, out);
    expect(out).toEqual([{ name: 'abc', ino: 12, kind: undefined }]);
  });

  it("refuses names no kernel writes: holding '/' or NUL, empty, '.' or '..' out of place, as EBADIMAGE", () => {
    const bad = (entries: DirectoryEntry[], patch?: (b: Buffer) => void): void => {
      const data = encodeDirectory(entries);
      patch?.(data);
      expect(() => decodeAll(data)).toThrow(expect.objectContaining({ code: 'EBADIMAGE' }));
    };
    bad([...dots(), ent('../../etc/x', 12)]);
    bad([...dots(), ent(Buffer.from([0x61, 0, 0x62]), 12)]);
    bad([...dots(), ent('zz', 12)], (b) => b.writeUInt8(0, 24 + 6)); // name_len 0
    bad([...dots(), ent('..', 12, 'dir')]);
    bad([...dots(), ent('a', 12), ent('.', 13, 'dir')]);
    bad([ent('..', 2, 'dir'), ent('.', 2, 'dir')]);
    // names that are odd but legal pass, bytes and all
    const odd = [Buffer.from('...'), Buffer.from('a\nb'), Buffer.from([0xff, 0xfe]), Buffer.from('..x')];
    expect(decodeAll(encodeDirectory([...dots(), ...odd.map((n, i) => ent(n, 20 + i))])).map((e) => bytesOf(e.name))).toEqual([
      Buffer.from('.'),
      Buffer.from('..'),
      ...odd,
    ]);
  });

  it('refuses entries whose rec_len or name_len do not fit (EBADIMAGE)', () => {
    const data = encodeDirectory([ent('abc', 12)]);
    data.writeUInt16LE(6, 4); // rec_len below the header
    expect(() => decodeAll(data)).toThrow(expect.objectContaining({ code: 'EBADIMAGE' }));
    const long = encodeDirectory([ent('abc', 12), ent('d', 13)]);
    long.writeUInt8(200, 6); // name runs past its rec_len
    expect(() => decodeAll(long)).toThrow(expect.objectContaining({ code: 'EBADIMAGE' }));
  });
});

describe("DirectoryEncoder: names as text, written in place (the writer's path)", () => {
  it('gives the bytes encodeDirectory gives, escaped bytes and UTF-8 included', () => {
    const names = ['a', 'grüße', `stray${String.fromCharCode(0xdcff)}byte`, 'x'.repeat(255), '🙂', ...Array.from({ length: 300 }, (_, i) => `file-${i}`)];
    const entries: DirectoryEntry[] = names.map((n, i) => ({ name: textToBuffer(n), ino: 100 + i, kind: i % 2 ? 'file' : 'dir' }));
    const want = encodeDirectory(entries);
    const out = Buffer.alloc(want.length);
    const enc = new DirectoryEncoder(out);
    names.forEach((n, i) => enc.add(100 + i, i % 2 ? 'file' : 'dir', n, textByteLength(n)));
    enc.finish();
    expect(out.equals(want)).toBe(true);
    expect(textToBuffer(names[2]!)).toEqual(Buffer.concat([Buffer.from('stray'), Buffer.of(0xff), Buffer.from('byte')]));
  });

  it('refuses entries past the blocks planned for them, and a name whose length was given wrong, as EIO', () => {
    const enc = new DirectoryEncoder(Buffer.alloc(BLOCK_SIZE));
    for (let i = 0; i < 15; i++) enc.add(i + 1, 'file', 'n'.repeat(255), 255);
    expect(() => enc.add(99, 'file', 'n'.repeat(255), 255)).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect(() => new DirectoryEncoder(Buffer.alloc(BLOCK_SIZE)).add(1, 'file', 'grüße', 5)).toThrow(expect.objectContaining({ code: 'EIO' }));
  });
});
