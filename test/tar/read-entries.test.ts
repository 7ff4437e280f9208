import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { LcowError } from '../../src/errors.js';
import { readFileChunks } from '../../src/layer/index.js';
import { FileBytes, decompress, readTarEntries, zstdSupport } from '../../src/tar/index.js';
import { describeTar, fixChecksum, gnuSparseTar, pyTar, richMembers, type MemberSpec, type PyFormat, type SparseFormat } from '../helpers/tar-fixtures.js';
import { chunked, collect, logicalHash, type Collected } from './collect.js';

const dir = mkdtempSync(join(tmpdir(), 'lcow-tar-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tarPath = () => join(dir, `t${n++}.tar`);

async function rejection(p: Promise<unknown>): Promise<LcowError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LcowError);
    return e as LcowError;
  }
  throw new Error('expected a rejection');
}

const oracleKind = (t: string) => t;

/** Compare our entries with Python tarfile's reading, entry by entry. */
function expectMatchesOracle(ours: Collected[], path: string): void {
  const oracle = describeTar(path);
  expect(ours).toHaveLength(oracle.length);
  oracle.forEach((o, i) => {
    const e = ours[i]!;
    expect(e.kind).toBe(oracleKind(o.type));
    expect(e.path).toBe(o.name.replace(/^\.\//, '').replace(/\/$/, ''));
    // Symlinks are normalised to 0777, as Linux creates them.
    expect(e.meta.mode).toBe(e.kind === 'symlink' ? o.mode | 0o777 : o.mode);
    expect(e.meta.uid).toBe(o.uid);
    expect(e.meta.gid).toBe(o.gid);
    // Python reads PAX mtimes as floats: compare to the microsecond.
    expect(e.meta.mtime.sec + e.meta.mtime.nsec / 1e9).toBeCloseTo(o.mtime, 5);
    if (e.kind === 'file') {
      expect(e.size).toBe(o.size);
      expect(e.sha256).toBe(o.sha256);
    }
    if (e.kind === 'symlink' || e.kind === 'hardlink') expect(e.target).toBe(o.linkname);
    if (e.kind === 'char' || e.kind === 'block') expect([e.major, e.minor]).toEqual([o.devmajor, o.devminor]);
  });
}

describe('TarReader.pull', () => {
  const members: MemberSpec[] = [
    { name: 'd', type: 'dir' },
    { name: 'd/' + 'long-'.repeat(30), data: 'pax name\n' },
    { name: 'd/f', data: 'x'.repeat(700) },
    { name: 'd/l', type: 'symlink', linkname: 'f' },
  ];

  it('gives entries at once when their headers are in memory, promises when they wait for input, the same entries either way', async () => {
    const tar = pyTar(tarPath(), 'pax', members);
    async function* whole(): AsyncGenerator<Buffer> {
      yield tar;
    }
    const reader = readTarEntries(whole());
    const first = reader.pull();
    expect(first).toBeInstanceOf(Promise); // nothing read yet
    const names = [(await first)!.path];
    let sync = 0;
    for (;;) {
      const pulled = reader.pull();
      if (!(pulled instanceof Promise)) sync++;
      const e = pulled instanceof Promise ? await pulled : pulled;
      if (e === null) break;
      names.push(e.path);
    }
    expect(sync).toBe(3); // the rest came from the chunk in memory (the end drains the input: a promise)
    const small: string[] = [];
    for await (const e of readTarEntries(chunked(tar, 512))) small.push(e.path);
    expect(small).toEqual(names);
    expect(names).toEqual(['d', 'd/' + 'long-'.repeat(30), 'd/f', 'd/l']);
  });

  it('releases the input when left early, and when a member is bad', async () => {
    const tar = pyTar(tarPath(), 'pax', members);
    let released = 0;
    async function* tracked(data: Buffer): AsyncGenerator<Buffer> {
      try {
        yield* chunked(data, 1024);
      } finally {
        released++;
      }
    }
    const reader = readTarEntries(tracked(tar));
    await reader.pull();
    await reader.return();
    expect(released).toBe(1);
    const bad = Buffer.from(tar);
    bad[512 * 3 + 148]! ^= 1; // a header checksum further on
    await expect(
      (async () => {
        for await (const e of readTarEntries(tracked(bad))) void e;
      })(),
    ).rejects.toMatchObject({ code: 'EBADTAR' });
    expect(released).toBe(2);
  });
});

describe('a body taken at once (takeAllNow)', () => {
  it('gives the whole body when the input chunk holds it, else nothing, leaving the body to iterate', async () => {
    const tar = pyTar(tarPath(), 'pax', [
      { name: 'a', data: 'first body\n' },
      { name: 'b', data: 'x'.repeat(3000) },
      { name: 'c', data: '' },
    ]);
    // 2048-byte chunks: a's body sits in the first chunk with its header, b's 3000 bytes cannot.
    const seen: Array<[string, string | undefined, number]> = [];
    for await (const e of readTarEntries(chunked(tar, 2048))) {
      if (e.kind !== 'file') continue;
      const now = e.body.takeAllNow?.();
      let rest = 0;
      for await (const c of e.body) rest += c.length;
      seen.push([e.path, now?.toString(), rest]);
    }
    expect(seen).toEqual([
      ['a', 'first body\n', 0],
      ['b', undefined, 3000],
      ['c', '', 0],
    ]);
  });
});

describe('readLayerEntries against Python tarfile', () => {
  for (const format of ['pax', 'gnu'] as PyFormat[]) {
    it(`reads every entry type and metadata corner (${format} format)`, async () => {
      const p = tarPath();
      const members = richMembers().filter((m) => format === 'pax' || !m.pax);
      const tar = pyTar(p, format, members);
      // Odd chunk sizes make headers and bodies straddle chunk boundaries.
      expectMatchesOracle(await collect(chunked(tar, 777)), p);
    });
  }

  it('consecutive members with the same header time share one frozen Timestamp; a different time gets its own', async () => {
    const p = tarPath();
    pyTar(p, 'ustar', [
      { name: 'a', data: 'a', mtime: 1600000000 },
      { name: 'b', data: 'b', mtime: 1600000000 },
      { name: 'c', type: 'dir', mtime: 1600000000 },
      { name: 'd', data: 'd', mtime: 1700000000 },
      { name: 'e', data: 'e', mtime: 1600000000 },
    ]);
    const metas = [];
    for await (const e of readTarEntries(chunked(readFileSync(p), 700))) metas.push(e.meta);
    const [a, b, c, d, e] = metas.map((m) => m.mtime);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(d).not.toBe(a);
    expect(e).not.toBe(d);
    expect([a, d, e]).toEqual([
      { sec: 1600000000, nsec: 0 },
      { sec: 1700000000, nsec: 0 },
      { sec: 1600000000, nsec: 0 },
    ]);
    expect(Object.isFrozen(a)).toBe(true);
    expect(metas[0]!.atime).toBe(a); // no atime in the archive: the mtime
  });

  it('reads ustar prefix/name splits', async () => {
    const p = tarPath();
    const name = 'p'.repeat(120) + '/' + 'n'.repeat(90);
    pyTar(p, 'ustar', [{ name, data: 'split' }]);
    const [e] = await collect(chunked(readFileSync(p), 512));
    expect(e!.path).toBe(name);
  });

  it('keeps PAX nanoseconds exactly, pre-1970 and post-2038, and binary xattrs', async () => {
    const p = tarPath();
    const bin = Buffer.from([0, 0xff, 10, 61]);
    pyTar(p, 'pax', [
      { name: 'a', data: 'a', pax: { mtime: '-1234567.000000001', atime: '4102444800.999999999', ctime: '253402300799.5' } },
      {
        name: 'b',
        data: 'b',
        paxBinary: { 'SCHILY.xattr.trusted.bin': bin.toString('base64') },
        pax: { 'LIBARCHIVE.xattr.user.la': Buffer.from('libarchive').toString('base64') },
      },
    ]);
    const [a, b] = await collect(chunked(readFileSync(p), 4096));
    expect(a!.meta.mtime).toEqual({ sec: -1234568, nsec: 999999999 });
    expect(a!.meta.atime).toEqual({ sec: 4102444800, nsec: 999999999 });
    expect(a!.meta.ctime).toEqual({ sec: 253402300799, nsec: 500000000 });
    expect(a!.meta).not.toHaveProperty('crtime'); // tar has no creation time; the ext4 writer uses mtime
    expect(b!.meta.xattrs.get('trusted.bin')).toEqual(bin);
    expect(b!.meta.xattrs.get('user.la')?.toString()).toBe('libarchive');
  });

  it('reads base-256 uids and negative mtimes from GNU headers', async () => {
    const p = tarPath();
    pyTar(p, 'gnu', [{ name: 'x', data: 'x', uid: 4294967294, gid: 3000000, mtime: -86400 }]);
    const [e] = await collect(chunked(readFileSync(p), 100_000));
    if (e!.kind !== 'file') throw new Error('file expected');
    expect([e!.meta.uid, e!.meta.gid, e!.meta.mtime.sec]).toEqual([4294967294, 3000000, -86400]);
  });
});

describe('sparse files', () => {
  const files = [
    {
      name: 'disk.img',
      size: 64 * 1024 * 1024,
      chunks: [
        { offset: 0, length: 10_000 },
        { offset: 20 * 1024 * 1024, length: 4096 },
        { offset: 64 * 1024 * 1024 - 100, length: 100 },
      ],
    },
    // More regions than the 4 an old-GNU header holds: exercises the extension blocks.
    { name: 'many', size: 4 * 1024 * 1024, chunks: Array.from({ length: 40 }, (_, i) => ({ offset: i * 100_000, length: 4096 })) },
    { name: 'allhole', size: 1024 * 1024, chunks: [] },
  ];
  for (const format of ['gnu', '0.0', '0.1', '1.0'] as SparseFormat[]) {
    it(`decodes GNU tar's ${format} sparse format without expanding holes`, async () => {
      const p = tarPath();
      gnuSparseTar(p, format, files);
      const ours = await collect(chunked(readFileSync(p), 65536));
      expectMatchesOracle(ours, p);
      const disk = ours[0]!;
      if (disk.kind !== 'file') throw new Error('file expected');
      expect(disk.path).toBe('disk.img');
      expect(disk.size).toBe(64 * 1024 * 1024);
      expect(disk.sparse!.length).toBeGreaterThanOrEqual(3);
      // Only the data regions travel through the body.
      expect(disk.stored).toBe(disk.sparse!.reduce((s, r) => s + r.length, 0));
      expect(disk.stored).toBeLessThan(100_000);
      const many = ours[1]!;
      if (many.kind !== 'file') throw new Error('file expected');
      expect(many.sparse!.length).toBeGreaterThanOrEqual(21);
    });
  }
});

describe('compression', () => {
  it('detects gzip from the magic bytes', async () => {
    const p = tarPath();
    const tar = pyTar(p, 'pax', [{ name: 'f', data: { size: 100_000 } }]);
    const plain = await collect(chunked(tar, 4096));
    const gz = await collect(chunked(gzipSync(tar), 333));
    expect(gz).toEqual(plain);
  });
  it('reads through reused buffers (readFileChunks), plain and gzip, without corruption', async () => {
    const p = tarPath();
    const tar = pyTar(p, 'pax', richMembers());
    writeFileSync(`${p}.gz`, gzipSync(tar));
    const expected = await collect(chunked(tar, 4096));
    // ring 2 is the tightest reuse: a chunk is overwritten on the second pull after it.
    expect(await collect(readFileChunks(p, { chunkSize: 700, ring: 2 }))).toEqual(expected);
    expect(await collect(readFileChunks(`${p}.gz`, { chunkSize: 300, ring: 2 }))).toEqual(expected);
  });
  it('reports truncated gzip as EBADTAR', async () => {
    const p = tarPath();
    const tar = pyTar(p, 'pax', [{ name: 'f', data: { size: 100_000 } }]);
    const gz = gzipSync(tar);
    const err = await rejection(collect(chunked(gz.subarray(0, gz.length - 5000), 1000)));
    expect(err.code).toBe('EBADTAR');
  });
  it('zstd: decoded by Node where it has zstd, else by the zstd program; through reused buffers too', async () => {
    const p = tarPath();
    const tar = pyTar(p, 'pax', richMembers());
    const zst = execFileSync('zstd', ['-q', '-c', p]);
    writeFileSync(`${p}.zst`, zst);
    expect(zstdSupport()).not.toBeUndefined();
    const expected = await collect(chunked(tar, 4096));
    expect(await collect(chunked(zst, 100))).toEqual(expected);
    expect(await collect(readFileChunks(`${p}.zst`, { chunkSize: 300, ring: 2 }))).toEqual(expected);
  });
  it('zstd: a corrupt or truncated stream is EBADTAR', async () => {
    const p = tarPath();
    pyTar(p, 'pax', [
      { name: 'f', data: { size: 300_000 } },
      { name: 'g', data: 'after' },
    ]);
    const zst = execFileSync('zstd', ['-q', '-c', p]);
    const truncated = await rejection(collect(chunked(zst.subarray(0, zst.length - 100), 1000)));
    expect(truncated.code).toBe('EBADTAR');
    const garbled = Buffer.from(zst);
    for (let i = 20; i < garbled.length - 20; i += 37) garbled[i]! ^= 0x5a;
    const corrupt = await rejection(collect(chunked(garbled, 1000)));
    expect(corrupt.code).toBe('EBADTAR');
  });
  it('zstd: stopping after the first entry ends the decoder (no hang, no stray process)', async () => {
    const p = tarPath();
    pyTar(
      p,
      'pax',
      Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, data: { size: 200_000 } })),
    );
    const zst = execFileSync('zstd', ['-q', '-c', p]);
    for await (const entry of readTarEntries(decompress(chunked(zst, 4096)))) {
      expect(entry.path).toBe('f0');
      break;
    }
  });
  it('zstd: with neither Node zstd nor the program, a clear EUNSUPPORTED', async () => {
    if ((zlib as unknown as Record<string, unknown>).createZstdDecompress) return; // this Node decodes zstd itself
    const p = tarPath();
    pyTar(p, 'pax', [{ name: 'f', data: 'zstd' }]);
    const zst = execFileSync('zstd', ['-q', '-c', p]);
    process.env.LCOW_ZSTD = join(dir, 'no-such-zstd');
    try {
      expect(zstdSupport()).toBeUndefined();
      const err = await rejection(collect(chunked(zst, 100)));
      expect(err.code).toBe('EUNSUPPORTED');
      expect(err.message).toMatch(/Node ≥ 22\.15.*zstd program/);
    } finally {
      delete process.env.LCOW_ZSTD;
    }
  });
});

describe('bad input is a typed error naming the entry', () => {
  const valid = (): Buffer =>
    pyTar(tarPath(), 'ustar', [
      { name: 'first', data: 'x'.repeat(1000) },
      { name: 'second', data: 'y'.repeat(1000) },
    ]);

  it('truncated inside a body', async () => {
    const tar = valid();
    const err = await rejection(collect(chunked(tar.subarray(0, 512 + 600), 100)));
    expect(err.code).toBe('EBADTAR');
    expect(err.context).toMatchObject({ entry: 'first', truncated: true });
  });
  it('truncated inside a header', async () => {
    const tar = valid();
    const err = await rejection(collect(chunked(tar.subarray(0, 1536 + 100), 100)));
    expect(err.code).toBe('EBADTAR');
    expect(err.context).toMatchObject({ truncated: true, entry: 'second' }); // the name field had arrived
    const early = await rejection(collect(chunked(tar.subarray(0, 1536 + 50), 100)));
    expect(early.context).toMatchObject({ truncated: true, entry: '(header)' });
  });
  it('truncated inside a skipped body and in padding', async () => {
    const tar = valid();
    // Abandon the body: the parser skips it, and still notices the archive ends early.
    const it = readTarEntries(chunked(tar.subarray(0, 512 + 1000 + 10), 100));
    await it.next();
    const err = await rejection(it.next());
    expect(err.context.entry).toBe('first');
  });
  it('bad header checksum', async () => {
    const tar = Buffer.from(valid());
    tar[1536 + 10]! ^= 0x55; // second header, in its name
    const err = await rejection(collect(chunked(tar, 4096)));
    expect(err.code).toBe('EBADTAR');
    expect(err.context.field).toBe('chksum');
    expect(err.message).toMatch(/checksum/);
  });
  it('absolute names, .. components, and hard links leaving the root', async () => {
    for (const [members, problem] of [
      [[{ name: '/etc/passwd', data: 'x' }], 'absolute'],
      [[{ name: 'a/../../etc/passwd', data: 'x' }], 'dotdot'],
      [[{ name: 'h', type: 'hardlink', linkname: '../outside' }], 'dotdot'],
      [[{ name: 'h', type: 'hardlink', linkname: '/etc/shadow' }], 'absolute'],
    ] as Array<[MemberSpec[], string]>) {
      const err = await rejection(collect(chunked(pyTar(tarPath(), 'pax', members), 4096)));
      expect(err.code).toBe('EBADTAR');
      expect(err.context).toMatchObject({ entry: members[0]!.name, problem });
    }
  });
  it('a name component over 255 bytes', async () => {
    const name = 'dir/' + 'x'.repeat(256);
    const err = await rejection(collect(chunked(pyTar(tarPath(), 'pax', [{ name, data: '' }]), 4096)));
    expect(err.context).toMatchObject({ entry: name, problem: 'name-too-long' });
  });
  it('a file larger than maxFileSizeBytes, sparse ones by their real size', async () => {
    const err = await rejection(collect(chunked(valid(), 4096), { maxFileSizeBytes: 999 }));
    expect(err.code).toBe('ETOOBIG');
    expect(err.context).toMatchObject({ entry: 'first', size: 1000, max: 999 });
    const p = tarPath();
    gnuSparseTar(p, '1.0', [{ name: 'sp', size: 10 << 20, chunks: [{ offset: 0, length: 10 }] }]);
    const err2 = await rejection(collect(chunked(readFileSync(p), 4096), { maxFileSizeBytes: 1 << 20 }));
    expect(err2.code).toBe('ETOOBIG');
    expect(err2.context.entry).toBe('sp');
  });
  it('an unknown entry type', async () => {
    const tar = Buffer.from(valid());
    tar[156] = 'Z'.charCodeAt(0);
    fixChecksum(tar, 0);
    const err = await rejection(collect(chunked(tar, 4096)));
    expect(err.code).toBe('EBADTAR');
    expect(err.context).toMatchObject({ entry: 'first', typeflag: 'Z' });
  });
  it('skips a volume label and reads on', async () => {
    const tar = Buffer.from(valid());
    tar[156] = 'V'.charCodeAt(0);
    tar.fill(0, 124, 136); // a label has no data
    tar.write('00000000000', 124);
    fixChecksum(tar, 0);
    // Drop the label's old data blocks so that the next header follows it.
    const fixed = Buffer.concat([tar.subarray(0, 512), tar.subarray(1536)]);
    expect((await collect(chunked(fixed, 4096))).map((e) => e.path)).toEqual(['second']);
  });
  it('the root replaced by a file', async () => {
    const err = await rejection(collect(chunked(pyTar(tarPath(), 'pax', [{ name: '.', data: 'x' }]), 4096)));
    expect(err.code).toBe('EBADTAR');
  });
});

describe('streaming', () => {
  it('reads upstream only as the consumer pulls (bodies are never buffered)', async () => {
    const p = tarPath();
    pyTar(p, 'pax', [
      { name: 'big', data: { size: 8 << 20 } },
      { name: 'after', data: 'x' },
    ]);
    const tar = readFileSync(p);
    let pulled = 0;
    async function* counting(): AsyncGenerator<Buffer> {
      for await (const c of chunked(tar, 65536)) {
        pulled += c.length;
        yield c;
      }
    }
    const it = readTarEntries(counting());
    const first = (await it.next()).value;
    expect(first?.kind).toBe('file');
    expect(pulled).toBeLessThanOrEqual(2 * 65536);
    if (first?.kind !== 'file') return;
    const body = first.body[Symbol.asyncIterator]();
    await body.next();
    await body.next();
    expect(pulled).toBeLessThanOrEqual(4 * 65536);
    // Abandoning the rest: the next entry is still found.
    const second = (await it.next()).value;
    expect(second?.path).toBe('after');
  });
  it('accepts an archive without the end-of-archive blocks, and an empty input', async () => {
    const tar = pyTar(tarPath(), 'ustar', [{ name: 'only', data: 'x' }]);
    expect((await collect(chunked(tar.subarray(0, 1024), 512))).map((e) => e.path)).toEqual(['only']);
    expect(await collect(chunked(Buffer.alloc(0), 512))).toEqual([]);
  });
});

describe('reading a file at positions (FileBytes)', () => {
  it('gives the entries the stream gives, with each body where dataOffset says, and seeks over bodies', async () => {
    const p = tarPath();
    const tar = pyTar(p, 'gnu', [...richMembers().filter((m) => !m.pax), { name: 'huge', data: { size: 4 << 20, seed: 3 } }]);
    const streamed = await collect(chunked(tar, 4096));
    const fh = await open(p, 'r');
    let bytesRead = 0;
    const counting = new Proxy(fh, {
      get(target, prop, receiver) {
        if (prop !== 'read') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<FileHandle['read']>) => {
          const r = await (target.read as (...a: unknown[]) => Promise<{ bytesRead: number }>)(...args);
          bytesRead += r.bytesRead;
          return r;
        };
      },
    });
    try {
      const offsets: number[] = [];
      for await (const e of readTarEntries(new FileBytes(counting, tar.length))) if (e.kind === 'file') offsets.push(e.dataOffset);
      expect(bytesRead).toBeLessThan(256 * 1024); // headers only: the bodies (4 MiB and more) were seeked over
      const files = streamed.filter((e) => e.kind === 'file');
      expect(files.map((e) => e.dataOffset)).toEqual(offsets);
      for (const e of files)
        expect(
          createHash('sha256')
            .update(tar.subarray(e.dataOffset, e.dataOffset + e.size))
            .digest('hex'),
        ).toBe(e.sha256);
      const fromFile = await collect2(new FileBytes(fh, tar.length));
      expect(fromFile).toEqual(streamed);
    } finally {
      await fh.close();
    }
  });
});

/** collect() over a ByteReader (no decompression: a file reader is plain tar). */
async function collect2(reader: FileBytes): Promise<Collected[]> {
  const out: Collected[] = [];
  for await (const e of readTarEntries(reader)) {
    if (e.kind === 'file') {
      const { body, ...rest } = e;
      out.push({ ...rest, ...(await logicalHash(e.size, e.sparse, body)) });
    } else out.push(e);
  }
  return out;
}
