/**
 * The WebAssembly header decoder against header.ts's JavaScript one, which
 * stays the reference: on every header the fast path accepts, both give the
 * same RawHeader; what it hands back, the reader gives header.ts (which the
 * reader's own tests cover).
 * Headers come from Python's tarfile in all three formats, then have their
 * fields rewritten byte by byte.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { decodeCommonHeader, rawHeaderScratch } from '../../src/tar/header-fast.js';
import { decodeHeader } from '../../src/tar/header.js';
import { fixChecksum, pyTar, richMembers, type MemberSpec } from '../helpers/tar-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'lcow-header-fast-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every header block of a tar (members and metadata headers alike). */
function headerBlocks(tar: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    const block = tar.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    out.push(Buffer.from(block));
    const size = decodeHeader(block).size;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

const ustarMembers: MemberSpec[] = [
  { name: 'p'.repeat(120) + '/in-the-prefix', data: 'ustar splits a long path at a slash' },
  { name: 'dir', type: 'dir', mode: 0o750, uid: 7, gid: 8 },
  { name: 'dir/link', type: 'symlink', linkname: '../p/target' },
  { name: 'dev-null', type: 'char', devmajor: 1, devminor: 3 },
];

const seeds = [
  ...headerBlocks(pyTar(join(dir, 'pax.tar'), 'pax', richMembers())),
  ...headerBlocks(
    pyTar(
      join(dir, 'gnu.tar'),
      'gnu',
      richMembers().filter((m) => !m.pax && !m.paxBinary),
    ),
  ),
  ...headerBlocks(pyTar(join(dir, 'ustar.tar'), 'ustar', ustarMembers)),
];

const NUMERIC_FIELDS = [100, 108, 116, 124, 136, 329, 337, 345, 357];
function hasBase256Number(block: Buffer): boolean {
  return NUMERIC_FIELDS.some((at) => (block[at]! & 0x80) !== 0);
}

function jsResult(block: Buffer): unknown {
  try {
    return decodeHeader(block);
  } catch (err) {
    return err;
  }
}

describe('the WebAssembly tar header decoder', () => {
  it('decodes the headers real tars write, exactly as header.ts does', () => {
    expect(seeds.length).toBeGreaterThan(60);
    for (const block of seeds) {
      const h = decodeCommonHeader(block);
      // Not a decoder that hands everything back: only base-256 numbers (GNU's uid 4294967294, a time before 1970) are left to header.ts.
      expect(h === undefined).toBe(hasBase256Number(block));
      if (h === undefined) continue;
      expect(h).toEqual(decodeHeader(block));
    }
    expect(seeds.filter(hasBase256Number).length).toBe(2);
  });

  it('joins the ustar prefix, and keeps old-GNU times and device numbers', () => {
    const prefixed = seeds.find((b) => b[345] !== 0 && b.toString('latin1', 257, 263) === 'ustar\0');
    expect(prefixed).toBeDefined();
    expect(decodeCommonHeader(prefixed!)!.name.toString()).toContain('/');
    const device = seeds.find((b) => b[156] === 0x33 && b.toString('latin1', 257, 265) === 'ustar  \0');
    expect(decodeCommonHeader(device!)).toMatchObject({ format: 'gnu', devmajor: 1, devminor: 3 });
  });

  it('on fields rewritten byte by byte: the same header, or handed back to header.ts', () => {
    const fields = [
      [100, 8],
      [108, 8],
      [116, 8],
      [124, 12],
      [136, 12],
      [148, 8],
      [257, 8],
      [329, 8],
      [337, 8],
      [345, 12],
      [357, 12],
      [156, 1],
    ] as const;
    const byte = fc.constantFrom(0x30, 0x37, 0x38, 0x20, 0x00, 0x80, 0xff, 0x41, 0x2d, 0x53);
    let accepted = 0;
    let handedBack = 0;
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(fields.length - 1), fc.nat(11), byte), { minLength: 1, maxLength: 6 }),
        fc.constantFrom('fix', 'keep', 'signed'),
        (seed, edits, checksum) => {
          const block = Buffer.from(seeds[seed]!);
          for (const [f, i, value] of edits) {
            const [start, length] = fields[f]!;
            block[start + (i % length)] = value;
          }
          if (checksum === 'fix') fixChecksum(block, 0);
          if (checksum === 'signed') {
            block.fill(0x20, 148, 156);
            let sum = 0;
            for (const b of block) sum += b > 127 ? b - 256 : b;
            block.write((sum >>> 0).toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
          }
          const fast = decodeCommonHeader(block);
          const js = jsResult(block);
          if (fast === undefined) {
            handedBack++; // header.ts decodes or rejects it (read-entries.ts)
          } else {
            accepted++;
            expect(js).not.toBeInstanceOf(Error);
            expect(fast).toEqual(js);
          }
        },
      ),
      { numRuns: 3000 },
    );
    // Both sides of the split were exercised.
    expect(accepted).toBeGreaterThan(300);
    expect(handedBack).toBeGreaterThan(300);
  });

  it('numbers on both sides of 2^30 (where it switches from its i32 copy to the f64) decode as header.ts decodes them', () => {
    const base = seeds.find((b) => !hasBase256Number(b) && b[156] === 0x30)!;
    for (const v of [0, 1, 2 ** 30 - 1, 2 ** 30, 2 ** 30 + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 33 - 1]) {
      const block = Buffer.from(base);
      block.write(v.toString(8).padStart(11, '0') + '\0', 124, 'latin1'); // size
      block.write(v.toString(8).padStart(11, '0') + '\0', 136, 'latin1'); // mtime
      block.write((v % 2 ** 21).toString(8).padStart(7, '0') + '\0', 108, 'latin1'); // uid
      fixChecksum(block, 0);
      const fast = decodeCommonHeader(block)!;
      expect(fast).toEqual(decodeHeader(block));
      expect([fast.size, fast.mtime, fast.uid]).toEqual([v, v, v % 2 ** 21]);
    }
  });

  it("fills the reader's one RawHeader in place, every field from the block at hand", () => {
    const common = seeds.filter((b) => !hasBase256Number(b) && decodeCommonHeader(b) !== undefined);
    const into = rawHeaderScratch();
    for (let i = 0; i < common.length * 2; i++) {
      const block = common[(i * 7) % common.length]!;
      expect(decodeCommonHeader(block, into)).toBe(into);
      expect({ ...into }).toEqual(decodeHeader(block));
    }
  });

  it('stays right across its fresh instances (one per 512 calls)', () => {
    const common = seeds.filter((b) => !hasBase256Number(b));
    for (let i = 0; i < 2100; i++) {
      const block = common[i % common.length]!;
      expect(decodeCommonHeader(block)!.size).toBe(decodeHeader(block).size);
    }
  });

  it('without WebAssembly (LCOW_NO_WASM=1, or node --jitless) it hands every header back', async () => {
    vi.resetModules();
    vi.stubEnv('LCOW_NO_WASM', '1');
    try {
      const fresh = await import('../../src/tar/header-fast.js');
      expect(fresh.decodeCommonHeader(seeds[0]!)).toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
      vi.resetModules();
    }
  });
});
