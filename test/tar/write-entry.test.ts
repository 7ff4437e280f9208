/**
 * The tar writer: names as bytes (ustar when printable ASCII fits, PAX
 * otherwise, `hdrcharset=BINARY` when not UTF-8), GNU sparse 1.0 entries,
 * and xattr keywords escaped as GNU tar escapes them — each read back by this
 * project's reader and by GNU tar (listing and extracting).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { END_OF_ARCHIVE, encodeSparseMap, encodeTarItem, padding, readTarEntries, type TarEntry, type TarItem } from '../../src/tar/index.js';

const dir = mkdtempSync(join(tmpdir(), 'lcow-tar-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const T = { sec: 1_700_000_000, nsec: 0 };
const file = (name: string | Buffer, body: Buffer, over: Partial<TarItem> = {}): Buffer[] => [
  encodeTarItem({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: T, ...over }),
  body,
  padding(body.length),
];

/** A sparse file's bytes in the tar: header(s) and map, then the regions' data, then padding. */
function sparseFile(name: string | Buffer, size: number, regions: Array<{ offset: number; data: Buffer }>): Buffer[] {
  const data = Buffer.concat(regions.map((r) => r.data));
  return [
    encodeTarItem({
      name,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size,
      mtime: T,
      sparse: regions.map((r) => ({ offset: r.offset, length: r.data.length })),
    }),
    data,
    padding(data.length),
  ];
}

function archive(parts: Buffer[][]): string {
  const p = join(dir, `w${n++}.tar`);
  writeFileSync(p, Buffer.concat([...parts.flat(), END_OF_ARCHIVE]));
  return p;
}

async function read(tar: string): Promise<Array<TarEntry & { data?: Buffer }>> {
  const out: Array<TarEntry & { data?: Buffer }> = [];
  for await (const e of readTarEntries(
    (async function* () {
      yield readFileSync(tar);
    })(),
  )) {
    if (e.kind !== 'file') out.push(e);
    else {
      const chunks: Buffer[] = [];
      for await (const c of e.body) chunks.push(Buffer.from(c));
      out.push({ ...e, data: Buffer.concat(chunks) });
    }
  }
  return out;
}

const paxOf = (b: Buffer): string => b.toString('latin1');

describe('names', () => {
  it('printable ASCII up to 100 bytes goes in the ustar header alone; anything else in PAX path', async () => {
    expect(encodeTarItem({ name: 'etc/passwd', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: T })).toHaveLength(512);
    const long = 'd/'.repeat(60) + 'f';
    const utf8 = 'café/日本';
    const tab = 'a\tb\nc';
    const tar = archive([file(long, Buffer.from('1')), file(utf8, Buffer.from('2')), file(tab, Buffer.from('3'))]);
    expect((await read(tar)).map((e) => e.path)).toEqual([long, utf8, tab]);
    expect(paxOf(readFileSync(tar))).not.toContain('hdrcharset');
  });

  it('bytes that are not UTF-8 are written as they are, with hdrcharset=BINARY, and GNU tar extracts them exactly', () => {
    const e9 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    const e8 = Buffer.from([0x63, 0x61, 0x66, 0xe8]);
    const tar = archive([file(e9, Buffer.from('e9')), file(e8, Buffer.from('e8')), file(Buffer.from('ok'), Buffer.from('ok'))]);
    const raw = readFileSync(tar);
    expect(raw.includes(Buffer.concat([Buffer.from(' path='), e9, Buffer.from('\n')]))).toBe(true);
    expect(paxOf(raw).match(/hdrcharset=BINARY/g)).toHaveLength(2);
    const out = join(dir, `x${n++}`);
    mkdirSync(out);
    execFileSync('tar', ['-xf', tar, '-C', out]);
    expect(
      readdirSync(out, { encoding: 'buffer' })
        .map((b) => b.toString('hex'))
        .sort(),
    ).toEqual([e9, e8, Buffer.from('ok')].map((b) => b.toString('hex')).sort());
    expect(readFileSync(Buffer.concat([Buffer.from(`${out}/`), e9])).toString()).toBe('e9');
    expect(readFileSync(Buffer.concat([Buffer.from(`${out}/`), e8])).toString()).toBe('e8');
  });

  it("this project's reader reads them back exactly (text with stray bytes as U+DC80..U+DCFF), two names stay two", async () => {
    const tar = archive([file(Buffer.from([0x66, 0xff]), Buffer.from('x')), file(Buffer.from([0x66, 0xfe]), Buffer.from('y'))]);
    expect((await read(tar)).map((e) => e.path)).toEqual(['f\udcff', 'f\udcfe']);
  });

  it('names given as text the reader gave (stray bytes as U+DC80..U+DCFF) are written as those bytes, not U+FFFD', async () => {
    const tar = archive([file('f\udcff', Buffer.from('x')), file('f\udcfe', Buffer.from('y'))]);
    expect((await read(tar)).map((e) => e.path)).toEqual(['f\udcff', 'f\udcfe']);
  });

  it("link targets too: a symlink's target bytes survive", () => {
    const target = Buffer.from([0x2e, 0x2e, 0x2f, 0xfe]);
    const tar = archive([[encodeTarItem({ name: 'l', type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 0, mtime: T, linkname: target })]]);
    const out = join(dir, `x${n++}`);
    mkdirSync(out);
    execFileSync('tar', ['-xf', tar, '-C', out]);
    expect(execFileSync('readlink', [join(out, 'l')]).subarray(0, -1)).toEqual(target);
  });
});

describe('GNU sparse 1.0', () => {
  it('refuses regions GNU tar and Go would read differently (not block-aligned)', () => {
    const item = { name: 's', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, size: 4096, mtime: T };
    expect(() => encodeTarItem({ ...item, sparse: [{ offset: 100, length: 512 }] })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() =>
      encodeTarItem({
        ...item,
        sparse: [
          { offset: 0, length: 100 },
          { offset: 1024, length: 512 },
        ],
      }),
    ).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('writes the map GNU tar writes: count, then offset and length per line, a last empty region at the end of a trailing hole', () => {
    const map = encodeSparseMap(
      [
        { offset: 0, length: 5 },
        { offset: 8192, length: 3 },
      ],
      1 << 20,
    );
    expect(map).toHaveLength(512);
    expect(map.toString('latin1').replace(/\0+$/, '')).toBe('3\n0\n5\n8192\n3\n1048576\n0\n');
    expect(
      encodeSparseMap([{ offset: 0, length: 10 }], 10)
        .toString('latin1')
        .replace(/\0+$/, ''),
    ).toBe('1\n0\n10\n');
  });

  it('a 1 TiB file with three blocks of data is 11 blocks of tar (with one more member); our reader and GNU tar agree on every byte', async () => {
    const TiB = 2 ** 40;
    const block = (text: string, atEnd = false): Buffer => {
      const b = Buffer.alloc(512);
      b.write(text, atEnd ? 512 - text.length : 0);
      return b;
    };
    const pieces = [
      { offset: 0, data: block('head') },
      { offset: TiB / 2, data: block('middle') },
      { offset: TiB - 512, data: block('tail', true) },
    ];
    const tar = archive([sparseFile('dir/huge', TiB, pieces), file('after', Buffer.from('next'))]);
    expect(statSync(tar).size).toBe(11 * 512); // PAX header + records, ustar header, map, three data blocks; 'after'; the end blocks
    const [huge, after] = await read(tar);
    expect(huge).toMatchObject({ kind: 'file', path: 'dir/huge', size: TiB, sparse: pieces.map((p) => ({ offset: p.offset, length: p.data.length })) });
    expect(huge!.data).toEqual(Buffer.concat(pieces.map((p) => p.data)));
    expect(after).toMatchObject({ path: 'after', data: Buffer.from('next') });

    expect(execFileSync('tar', ['-tvf', tar], { encoding: 'utf8' })).toMatch(/ 1099511627776 .* dir\/huge\n.* after\n$/);
    const out = join(dir, `x${n++}`);
    mkdirSync(out);
    execFileSync('tar', ['-xf', tar, '-C', out]);
    const st = statSync(join(out, 'dir/huge'));
    expect(st.size).toBe(TiB);
    expect(st.blocks * 512).toBeLessThan(1 << 20);
    const fd = openSync(join(out, 'dir/huge'), 'r');
    try {
      for (const p of pieces) {
        // the region and a byte of hole on each side
        const b = Buffer.alloc(514);
        const from = Math.max(0, p.offset - 1);
        const got = readSync(fd, b, 0, b.length, from);
        const want = Buffer.concat([Buffer.alloc(p.offset - from), p.data, Buffer.alloc(2)]).subarray(0, got);
        expect(b.subarray(0, got)).toEqual(want);
      }
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(join(out, 'after')).toString()).toBe('next');
  });

  it('a sparse file whose name is not UTF-8 keeps it (GNU.sparse.name carries the bytes)', () => {
    const name = Buffer.from([0x73, 0xff]);
    const tar = archive([sparseFile(name, 1 << 20, [{ offset: 4096, data: Buffer.from('x') }])]); // a last region may be any length
    const out = join(dir, `x${n++}`);
    mkdirSync(out);
    execFileSync('tar', ['-xf', tar, '-C', out]);
    expect(readdirSync(out, { encoding: 'buffer' })).toEqual([name]);
    expect(statSync(Buffer.concat([Buffer.from(`${out}/`), name])).size).toBe(1 << 20);
  });

  it('any map round-trips through our reader (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2048 }), fc.integer({ min: 1, max: 8 })), { maxLength: 30 }),
        fc.integer({ min: 1, max: 511 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        async (raw, lastLength, tail) => {
          // ascending, disjoint, block-aligned regions; the last one of any length
          let at = 0;
          const pieces = raw.map(([gapBlocks, blocks], i) => {
            const len = i === raw.length - 1 ? blocks * 512 - 512 + lastLength : blocks * 512;
            const p = { offset: at + gapBlocks * 512, data: Buffer.alloc(len, (at + gapBlocks) & 0xff) };
            at = p.offset + len;
            return p;
          });
          const size = at + tail;
          const [e] = await read(archive([sparseFile('s', size, pieces)]));
          expect(e).toMatchObject({ size, sparse: pieces.map((p) => ({ offset: p.offset, length: p.data.length })) });
          expect(e!.data).toEqual(Buffer.concat(pieces.map((p) => p.data)));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('xattrs', () => {
  it("escape '%' and '=' in names as GNU tar does, so a name holding '=' does not end the keyword", async () => {
    const xattrs = new Map([
      ['user.a=b%c', Buffer.from('v1')],
      ['user.plain', Buffer.from([0, 0xff, 0x0a])],
    ]);
    const tar = archive([file('f', Buffer.from('x'), { xattrs })]);
    expect(paxOf(readFileSync(tar))).toContain(' SCHILY.xattr.user.a%3Db%25c=v1\n');
    const [e] = await read(tar);
    expect(e!.meta.xattrs).toEqual(xattrs);
    const out = join(dir, `x${n++}`);
    mkdirSync(out);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xf', tar, '-C', out]);
    const got = execFileSync('python3', ['-c', 'import os,sys; print(os.getxattr(sys.argv[1], "user.a=b%c").decode())', join(out, 'f')], { encoding: 'utf8' });
    expect(got.trim()).toBe('v1');
  });
});
