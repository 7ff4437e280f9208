/**
 * Extended attributes: what layoutXattrs writes into the inode and the
 * xattr block, read back by the decoders the reader uses; the names'
 * index/prefix table; the kernel's entry and block hashes (transcribed here
 * independently), which e2fsck checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCK_SIZE, INLINE_XATTR_SPACE } from '../../../src/ext4/format/constants.js';
import {
  XATTR_MAGIC,
  decodeInodeXattrs,
  decodeXattrBlock,
  joinXattrName,
  layoutXattrs,
  splitXattrName,
  xattrBlockHash,
  xattrEntryHash,
  type RawXattr,
} from '../../../src/ext4/format/xattrs.js';
import { RUNS, expectCode } from './helpers.js';

describe("extended attributes: layoutXattrs through the reader's decoders; names; hashes", () => {
  /** The kernel's ext4_xattr_hash_entry, transcribed independently (unsigned char name bytes). */
  function kernelEntryHash(name: Buffer, value: Buffer): number {
    let hash = 0;
    for (const c of name) hash = ((hash << 5) ^ (hash >>> 27) ^ c) >>> 0;
    const padded = Buffer.alloc((value.length + 3) & ~3);
    value.copy(padded);
    for (let i = 0; i < padded.length; i += 4) hash = ((hash << 16) ^ (hash >>> 16) ^ padded.readUInt32LE(i)) >>> 0;
    return hash;
  }
  const full = (r: RawXattr) => r.name;
  const asMap = (recs: RawXattr[]) => new Map(recs.map((r) => [r.name, r.value!.toString('hex')]));
  const hexMap = (m: Map<string, Buffer>) => new Map([...m].map(([k, v]) => [k, v.toString('hex')]));

  /** Check the entry headers of an area: stored hashes, value_inum 0, sizes. */
  function checkEntries(area: Buffer, start: number): number[] {
    const hashes: number[] = [];
    let pos = start;
    while (area.readUInt32LE(pos) !== 0) {
      const nameLen = area.readUInt8(pos);
      const valueSize = area.readUInt32LE(pos + 8);
      const offs = area.readUInt16LE(pos + 2);
      const base = start === 4 ? 4 : 0;
      const name = area.subarray(pos + 16, pos + 16 + nameLen);
      const value = area.subarray(base + offs, base + offs + valueSize);
      expect(area.readUInt32LE(pos + 4)).toBe(0); // e_value_inum
      expect(area.readUInt32LE(pos + 12)).toBe(kernelEntryHash(name, value));
      if (valueSize > 0) expect(offs % 4).toBe(0);
      hashes.push(area.readUInt32LE(pos + 12));
      pos += 16 + ((nameLen + 3) & ~3);
    }
    return hashes;
  }

  describe('splitXattrName / joinXattrName', () => {
    it.each([
      ['user.mime_type', 1, 'mime_type'],
      ['user.ünïcödé', 1, 'ünïcödé'],
      ['trusted.overlay.opaque', 4, 'overlay.opaque'],
      ['security.capability', 6, 'capability'],
      ['security.selinux', 6, 'selinux'],
      ['system.posix_acl_access', 2, ''],
      ['system.posix_acl_default', 3, ''],
      ['system.richacl', 8, ''],
      ['system.data', 7, 'data'],
    ])('%s → index %i, name %j', (name, index, rest) => {
      const s = splitXattrName(name);
      expect(s).toEqual({ index, name: Buffer.from(rest, 'utf8') });
      expect(joinXattrName(s.index, s.name.toString('utf8'))).toBe(name);
    });

    it.each(['os2.foo', 'foo', 'USER.x', 'user.', 'trusted.', '', 'lustre.x'])('rejects %j with EUNSUPPORTED', (name) => {
      const err = expectCode(() => splitXattrName(name), 'EUNSUPPORTED');
      expect(err.context.xattr).toBe(name);
    });

    it('names an unknown index instead of failing', () => {
      expect(joinXattrName(9, 'x')).toBe('unknown9.x');
    });
  });

  describe('xattrEntryHash / xattrBlockHash', () => {
    it('gives stable, kernel-compatible values', () => {
      expect(xattrEntryHash(Buffer.alloc(0), Buffer.alloc(0))).toBe(0);
      // name "a" (0x61), then value word "b\0\0\0" = 0x62: (0x61 << 16) ^ 0x62
      expect(xattrEntryHash(Buffer.from('a'), Buffer.from('b'))).toBe(0x00610062);
      // Pinned values; the same transcription of ext4_xattr_hash_entry must agree.
      const cases: Array<[string, Buffer]> = [
        ['capability', Buffer.from('0100000200200000000000000000000000000000', 'hex')],
        ['selinux', Buffer.from('system_u:object_r:bin_t:s0\0')],
        ['mime_type', Buffer.from('text/plain')],
        ['', Buffer.from('\x02\x00\x00\x00\x01\x00\x06\x00')],
        ['opaque', Buffer.from('y')],
        ['xyz', Buffer.alloc(0)],
      ];
      for (const [n, v] of cases) expect(xattrEntryHash(Buffer.from(n), v), n).toBe(kernelEntryHash(Buffer.from(n), v));
      expect(cases.map(([n, v]) => xattrEntryHash(Buffer.from(n), v))).toEqual([0x8a6182aa, 0x10d900e2, 0x8061e5ba, 0x00040001, 0x4ac5d948, 0x0001ef5a]);
    });

    it('matches the kernel transcription for arbitrary names and values (property)', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 255 }), fc.uint8Array({ maxLength: 600 }), (n, v) => {
          expect(xattrEntryHash(Buffer.from(n), Buffer.from(v))).toBe(kernelEntryHash(Buffer.from(n), Buffer.from(v)));
        }),
        RUNS,
      );
    });

    it('the block hash is the rotate-xor of the entry hashes, 0 if any entry hash is 0', () => {
      expect(xattrBlockHash([])).toBe(0);
      expect(xattrBlockHash([0x12345678])).toBe(0x12345678);
      expect(xattrBlockHash([0x12345678, 1])).toBe(0x56781234 ^ 1);
      expect(xattrBlockHash([5, 0, 7])).toBe(0);
    });
  });

  describe('layoutXattrs / decodeInodeXattrs / decodeXattrBlock', () => {
    it('no attributes: no inline area, no block', () => {
      expect(layoutXattrs(new Map())).toEqual({});
    });

    it('keeps small attributes inline, in insertion order', () => {
      const attrs = new Map<string, Buffer>([
        ['user.zeta', Buffer.from('1')],
        ['security.capability', Buffer.alloc(12, 7)],
        ['user.a', Buffer.alloc(0)],
      ]);
      // 8 (magic + terminator) + 24 + (16 + 12 + 12) + 20 = 92 ≤ 96 bytes.
      const layout = layoutXattrs(attrs);
      expect(layout.block).toBeUndefined();
      const inline = layout.inline as Buffer;
      expect(inline.length).toBe(INLINE_XATTR_SPACE);
      expect(inline.readUInt32LE(0)).toBe(XATTR_MAGIC);
      const recs = decodeInodeXattrs(inline, 12);
      expect(recs.map(full)).toEqual(['user.zeta', 'security.capability', 'user.a']);
      expect(asMap(recs)).toEqual(hexMap(attrs));
      checkEntries(inline, 4);
    });

    it('fills the inline area to the byte, then spills the rest to a sorted block', () => {
      // Inline budget: 96 - 8 (magic + terminator) = 88. 'user.' + 4-byte name + 52-byte value = 16 + 4 + 52 = 72;
      // then 'user.b' + 0 bytes = 16 + 4 = 20 → 92 > 88, so it spills, and so does everything after it.
      const attrs = new Map<string, Buffer>([
        ['user.aaaa', Buffer.alloc(52, 1)],
        ['user.b', Buffer.alloc(0)],
        ['user.c', Buffer.from('c')], // would fit inline, but order is kept: once spilled, all spill
        ['trusted.t', Buffer.from('t')],
        ['security.s', Buffer.from('s')],
        ['system.posix_acl_access', Buffer.from('acl')],
        ['user.bb', Buffer.from('bb')],
        ['user.ab', Buffer.from('ab')],
      ]);
      const layout = layoutXattrs(attrs);
      const inline = decodeInodeXattrs(layout.inline as Buffer, 12);
      expect(inline.map(full)).toEqual(['user.aaaa']);
      const block = layout.block as Buffer;
      expect(block.length).toBe(BLOCK_SIZE);
      expect(block.readUInt32LE(0)).toBe(XATTR_MAGIC);
      expect(block.readUInt32LE(4)).toBe(1); // h_refcount
      expect(block.readUInt32LE(8)).toBe(1); // h_blocks
      const recs = decodeXattrBlock(block, 12);
      // Sorted by index, then name length, then name bytes.
      expect(recs.map(full)).toEqual(['user.b', 'user.c', 'user.ab', 'user.bb', 'system.posix_acl_access', 'trusted.t', 'security.s']);
      expect(asMap([...inline, ...recs])).toEqual(hexMap(attrs));
      const hashes = checkEntries(block, 32);
      expect(block.readUInt32LE(12)).toBe(xattrBlockHash(hashes)); // h_hash
      checkEntries(layout.inline as Buffer, 4);
    });

    it('an attribute that exactly fills the inline area stays inline', () => {
      // 'user.n' (1-byte name → 4) + 68-byte value: 16 + 4 + 68 = 88 = the whole budget.
      const layout = layoutXattrs(new Map([['user.n', Buffer.alloc(68, 9)]]));
      expect(layout.block).toBeUndefined();
      expect(decodeInodeXattrs(layout.inline as Buffer, 12)[0]!.value).toEqual(Buffer.alloc(68, 9));
      const spilled = layoutXattrs(new Map([['user.n', Buffer.alloc(69, 9)]]));
      expect(spilled.inline).toBeUndefined();
      expect(decodeXattrBlock(spilled.block as Buffer, 12)[0]!.value).toEqual(Buffer.alloc(69, 9));
    });

    it('fails with ETOOBIG past one block, and not before', () => {
      // Block: 32-byte header + 16 + 4 (name 'v') + value + 4-byte terminator ≤ 4096 → value ≤ 4040.
      const fits = layoutXattrs(new Map([['user.v', Buffer.alloc(4040, 3)]]));
      expect(decodeXattrBlock(fits.block as Buffer, 12)[0]!.value).toEqual(Buffer.alloc(4040, 3));
      const err = expectCode(() => layoutXattrs(new Map([['user.v', Buffer.alloc(4041, 3)]]), { entry: 'some/file' }), 'ETOOBIG');
      expect(err.context.entry).toBe('some/file');
      expect(err.context.bytes).toBe(4100);
      const many = new Map(Array.from({ length: 40 }, (_, i): [string, Buffer] => [`user.attr${i}`, Buffer.alloc(100)]));
      expectCode(() => layoutXattrs(many), 'ETOOBIG');
    });

    it('fails with ETOOBIG for a name over 255 bytes and EUNSUPPORTED for a foreign namespace', () => {
      expectCode(() => layoutXattrs(new Map([[`user.${'n'.repeat(256)}`, Buffer.alloc(1)]])), 'ETOOBIG');
      layoutXattrs(new Map([[`user.${'n'.repeat(255)}`, Buffer.alloc(1)]]));
      expectCode(() => layoutXattrs(new Map([['os2.x', Buffer.alloc(1)]])), 'EUNSUPPORTED');
    });

    it('an inode area without the magic holds nothing; a block without it is EBADIMAGE', () => {
      expect(decodeInodeXattrs(Buffer.alloc(INLINE_XATTR_SPACE), 12)).toEqual([]);
      expect(decodeInodeXattrs(Buffer.alloc(2), 12)).toEqual([]);
      expectCode(() => decodeXattrBlock(Buffer.alloc(BLOCK_SIZE), 12), 'EBADIMAGE');
    });

    it('a value that runs past its area is EBADIMAGE, never a short read', () => {
      const layout = layoutXattrs(new Map([['user.big', Buffer.alloc(4000, 1)]]));
      const block = Buffer.from(layout.block!);
      block.writeUInt32LE(5000, 32 + 8); // e_value_size past the block
      expectCode(() => decodeXattrBlock(block, 12), 'EBADIMAGE');
    });

    it('round-trips through both areas (property)', () => {
      const arbAttrs = fc
        .uniqueArray(
          fc.tuple(
            fc.constantFrom('user.', 'trusted.', 'security.'),
            fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme-ascii' }),
            fc.uint8Array({ maxLength: 300 }),
          ),
          { maxLength: 10, selector: ([p, n]) => p + n },
        )
        .map((list) => new Map(list.map(([p, n, v]): [string, Buffer] => [p + n, Buffer.from(v)])));
      fc.assert(
        fc.property(arbAttrs, (attrs) => {
          const layout = layoutXattrs(attrs);
          const inline = layout.inline ? decodeInodeXattrs(layout.inline, 12) : [];
          const block = layout.block ? decodeXattrBlock(layout.block, 12) : [];
          // Inline holds a prefix of the insertion order; the block holds the rest.
          expect(inline.map(full)).toEqual([...attrs.keys()].slice(0, inline.length));
          expect(inline.length + block.length).toBe(attrs.size);
          expect(asMap([...inline, ...block])).toEqual(hexMap(attrs));
          if (layout.inline) checkEntries(layout.inline, 4);
          if (layout.block) expect(layout.block.readUInt32LE(12)).toBe(xattrBlockHash(checkEntries(layout.block, 32)));
        }),
        RUNS,
      );
    });
  });
});
