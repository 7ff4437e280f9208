/**
 * End to end: tar → convertTarToExt4 → e2fsck -fn → loop mount, compared
 * entry by entry with GNU tar's own extraction of the same archive (type,
 * mode incl. suid/sgid/sticky, uid/gid, size, content hash, symlink target,
 * device numbers, user xattrs, link counts, mtime to the nanosecond).
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LcowError } from '../../src/errors.js';
import { convertTarToExt4, openExt4Image, type ConvertOptions } from '../../src/layer/index.js';
import { parseVhdFooter } from '../../src/vhd/index.js';
import {
  describeTar,
  describeTree,
  e2fsck,
  extractReference,
  fixChecksum,
  gnuSparseTar,
  paxSizeThenLongName,
  pyTar,
  richMembers,
  sparseFilesEqual,
  withLoopMount,
  type MemberSpec,
  type PyFormat,
  type TreeNode,
} from '../helpers/tar-fixtures.js';

const MiB2 = 2 * 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'lcow-convert-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
const fresh = (name: string) => {
  const d = join(root, `${name}-${seq++}`);
  mkdirSync(d);
  return d;
};

async function convertFile(tar: string, out: string, options: ConvertOptions = {}) {
  return convertTarToExt4(createReadStream(tar, { highWaterMark: 256 * 1024 }), out, options);
}

/**
 * Compare the image's tree with the reference extraction. Dirs that only exist
 * implicitly are compared by type. Directory mtimes come from the tar itself
 * (`explicit`): GNU tar resets a directory's time when it leaves it in archive
 * order, so a later entry inside it (a hard link, say) leaves the extraction time.
 */
function expectSameTree(image: Map<string, TreeNode>, reference: Map<string, TreeNode>, explicit: Map<string, number>): void {
  image.delete('lost+found');
  image.delete('');
  reference.delete('');
  expect([...image.keys()].sort()).toEqual([...reference.keys()].sort());
  for (const [path, ref] of reference) {
    const got = image.get(path)!;
    expect({ path, type: got.type }).toEqual({ path, type: ref.type });
    if (ref.type === 'dir' && !explicit.has(path)) continue;
    const pick = (n: TreeNode) => ({
      path,
      mode: n.mode.toString(8),
      uid: n.uid,
      gid: n.gid,
      size: n.size,
      sha256: n.sha256,
      target: n.target,
      rdev: n.rdev,
      xattrs: n.xattrs,
      mtimeNs: n.type === 'dir' ? undefined : n.mtimeNs,
      nlink: n.type === 'dir' ? undefined : n.nlink,
    });
    expect(pick(got)).toEqual(pick(ref));
    if (ref.type === 'dir') expect({ path, sec: Number(BigInt(got.mtimeNs) / 1_000_000_000n) }).toEqual({ path, sec: Math.floor(explicit.get(path)!) });
  }
}

async function convertAndCompare(tar: string, options: ConvertOptions = {}): Promise<{ out: string }> {
  const dir = fresh('cmp');
  const out = join(dir, 'layer.vhd');
  const result = await convertFile(tar, out, options);
  expect(readdirSync(dir)).toEqual(['layer.vhd']);
  expect(result.sizeBytes).toBe(statSync(out).size);
  const fsck = e2fsck(out);
  expect(fsck.output).not.toMatch(/Fix\?|\berror\b/i);
  expect(fsck.status).toBe(0);
  const ref = fresh('ref');
  extractReference(tar, ref);
  const explicit = new Map(describeTar(tar).map((m) => [m.name.replace(/^\.\//, '').replace(/\/$/, ''), m.mtime] as const));
  await withLoopMount(out, (mnt) => expectSameTree(describeTree(mnt, { xattrPrefixes: ['user.'] }), describeTree(ref, { xattrPrefixes: ['user.'] }), explicit));
  return { out };
}

describe('convertTarToExt4 end to end', () => {
  for (const format of ['pax', 'gnu'] as PyFormat[]) {
    it(`converts every entry type and metadata corner (${format}) to an e2fsck-clean, content-identical image`, async () => {
      const tar = join(fresh('tar'), 'rich.tar');
      pyTar(
        tar,
        format,
        richMembers().filter((m) => format === 'pax' || !m.pax),
      );
      const { out } = await convertAndCompare(tar);
      // A fixed VHD footer closes the file, and qemu-img reads it.
      const buf = readFileSync(out);
      const footer = parseVhdFooter(buf.subarray(buf.length - 512));
      expect(footer.currentSize).toBe(buf.length - 512);
      const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-f', 'vpc', out]).toString()) as { 'virtual-size': number };
      expect(info['virtual-size']).toBe(buf.length - 512);
    });
  }

  for (const format of ['gnu', '0.0', '0.1', '1.0'] as const) {
    it(`writes GNU ${format} sparse files sparse (holes stay holes)`, async () => {
      const tar = join(fresh('tar'), 'sparse.tar');
      gnuSparseTar(tar, format, [
        {
          name: 'disk.img',
          size: 256 * 1024 ** 2,
          chunks: [
            { offset: 0, length: 5000 },
            { offset: 100 * 1024 ** 2, length: 70_000 },
            { offset: 256 * 1024 ** 2 - 10, length: 10 },
          ],
        },
        { name: 'dir/many', size: 8 << 20, chunks: Array.from({ length: 50 }, (_, i) => ({ offset: i * 150_000 + 1, length: 3000 })) },
      ]);
      const { out } = await convertAndCompare(tar);
      // 256 MiB of logical data in an image of well under a megabyte on disk.
      expect(statSync(out).blocks * 512).toBeLessThan(2 << 20);
    });
  }

  for (const format of ['gnu', '1.0'] as const) {
    it(`keeps a 16 GiB sparse file (base-256 / PAX real size, ${format}) sparse and identical`, async () => {
      const src = fresh('src');
      const spec = {
        name: 'huge.img',
        size: 16 * 2 ** 30,
        chunks: [
          { offset: 4096, length: 8192 },
          { offset: 9 * 2 ** 30, length: 12_345 },
          { offset: 16 * 2 ** 30 - 1, length: 1 },
        ],
      };
      const tar = join(src, 'huge.tar');
      gnuSparseTar(tar, format, [spec]);
      const out = join(fresh('out'), 'huge.vhd');
      const r = await convertFile(tar, out);
      expect(r.entries).toBe(1);
      expect(r.ext4SizeBytes).toBeLessThan(1 << 20);
      expect(statSync(out).blocks * 512).toBeLessThan(1 << 20);
      expect(e2fsck(out).status).toBe(0);
      const ref = fresh('ref');
      extractReference(tar, ref);
      await withLoopMount(out, (mnt) => {
        expect(statSync(join(mnt, 'huge.img')).size).toBe(16 * 2 ** 30);
        expect(sparseFilesEqual(join(mnt, 'huge.img'), join(ref, 'huge.img'))).toBe('equal');
      });
    });
  }

  it('converts whiteouts and opaque markers that come before their parents', async () => {
    const tar = join(fresh('tar'), 'wh.tar');
    pyTar(tar, 'pax', [
      { name: 'a/b/.wh..wh..opq', data: '' },
      { name: 'a/b/.wh.deleted', data: '' },
      { name: '.wh.toplevel', data: '' },
      { name: 'a', type: 'dir', mode: 0o750 },
      { name: 'a/b', type: 'dir', mode: 0o705 },
      { name: 'a/b/kept', data: 'kept' },
      { name: '.wh..wh.plnk', type: 'dir' },
    ]);
    const out = join(fresh('out'), 'wh.vhd');
    await convertFile(tar, out, { whiteouts: true });
    expect(e2fsck(out).status).toBe(0);
    await withLoopMount(out, (mnt) => {
      const t = describeTree(mnt, { xattrPrefixes: ['trusted.overlay.'] });
      expect(t.get('a/b/deleted')).toMatchObject({ type: 'char', rdev: [0, 0] });
      expect(t.get('toplevel')).toMatchObject({ type: 'char', rdev: [0, 0] });
      expect(t.get('a/b')).toMatchObject({ type: 'dir', mode: 0o705, xattrs: { 'trusted.overlay.opaque': Buffer.from('y').toString('base64') } });
      expect(t.get('a')).toMatchObject({ mode: 0o750, xattrs: {} });
      expect(t.has('.wh..wh.plnk')).toBe(false);
      expect(t.has('a/b/.wh.deleted')).toBe(false);
    });
  });

  it('appends a dm-verity tree that veritysetup verifies, before the footer', async () => {
    const tar = join(fresh('tar'), 'v.tar');
    pyTar(tar, 'pax', richMembers());
    const out = join(fresh('out'), 'v.vhd');
    const r = await convertFile(tar, out, { verity: true });
    expect(r.verity!.hashOffsetBytes).toBe(r.ext4SizeBytes);
    // The tree, then a hole up to the 2 MiB layer alignment, then the footer.
    expect(r.sizeBytes).toBe(Math.ceil(r.verity!.totalSizeBytes / MiB2) * MiB2 + 512);
    execFileSync('veritysetup', ['verify', out, out, r.rootHash!, `--hash-offset=${r.verity!.hashOffsetBytes}`]);
    expect(e2fsck(out).status).toBe(0);
  });

  it('pads a VHD layer to whole 2 MiB with a hole (QEMU maps VPMEM in 2 MiB sections); raw images and alignBytes 4096 stay unpadded', async () => {
    const tar = join(fresh('tar'), 'p.tar');
    pyTar(tar, 'pax', richMembers());
    const out = join(fresh('out'), 'p.vhd');
    const r = await convertFile(tar, out);
    const data = r.sizeBytes - 512;
    expect(data % MiB2).toBe(0);
    expect(data).toBeGreaterThan(r.ext4SizeBytes);
    const st = statSync(out);
    expect(st.size).toBe(r.sizeBytes);
    expect(st.blocks * 512).toBeLessThan(r.ext4SizeBytes + 64 * 1024); // the padding takes no disk space
    const footer = parseVhdFooter(readFileSync(out).subarray(data));
    expect(footer.currentSize).toBe(data);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-f', 'vpc', out]).toString()) as { 'virtual-size': number };
    expect(info['virtual-size']).toBe(data);
    expect(e2fsck(out).status).toBe(0);

    const tight = await convertFile(tar, join(fresh('out'), 't.vhd'), { alignBytes: 4096 });
    expect(tight.sizeBytes).toBe(tight.ext4SizeBytes + 512);
    const raw = await convertFile(tar, join(fresh('out'), 'r.img'), { vhdFooter: false });
    expect(raw.sizeBytes).toBe(raw.ext4SizeBytes);
    const rawAligned = await convertFile(tar, join(fresh('out'), 'ra.img'), { vhdFooter: false, alignBytes: MiB2 });
    expect(rawAligned.sizeBytes % MiB2).toBe(0);

    const badDir = fresh('out');
    for (const alignBytes of [0, 3000, 2048, 6 * 1024 * 1024]) {
      await expect(convertFile(tar, join(badDir, 'x.vhd'), { alignBytes })).rejects.toMatchObject({ code: 'EINVAL' });
    }
    expect(readdirSync(badDir)).toEqual([]);
  });

  it('is deterministic: the same tar gives the same bytes (VHD id derived from content)', async () => {
    const tar = join(fresh('tar'), 'd.tar');
    pyTar(tar, 'pax', richMembers());
    const a = join(fresh('out'), 'a.vhd');
    const b = join(fresh('out'), 'b.vhd');
    await convertFile(tar, a);
    await convertFile(tar, b);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('gives a PAX size record to the member after a GNU long-name header, as GNU tar does', async () => {
    const long = 'pax-size-then-long-name/' + 'n'.repeat(150);
    const body = Buffer.alloc(3000, 7);
    const tar = join(fresh('tar'), 'pl.tar');
    writeFileSync(
      tar,
      paxSizeThenLongName([
        { name: long, body },
        { name: 'after', body: Buffer.from('in step') },
      ]),
    );
    const listing = execFileSync('tar', ['-tvf', tar], { encoding: 'utf8' });
    expect(listing).toMatch(new RegExp(`\\b3000 .* ${long}\\n`));
    expect(listing).toMatch(/\b7 .* after\n/);
    const out = join(fresh('out'), 'pl.vhd');
    expect((await convertFile(tar, out)).entries).toBe(2);
    expect(e2fsck(out).status).toBe(0);
    const img = await openExt4Image(out);
    try {
      expect(await img.readFile(`/${long}`)).toEqual(body);
      expect((await img.readFile('/after')).toString()).toBe('in step');
    } finally {
      await img.close();
    }
  });

  it('accepts gzip input and --no-vhd output', async () => {
    const tar = join(fresh('tar'), 'g.tar');
    pyTar(tar, 'pax', richMembers());
    execFileSync('gzip', ['-k', tar]);
    const out = join(fresh('out'), 'g.img');
    const r = await convertFile(`${tar}.gz`, out, { vhdFooter: false });
    expect(r.sizeBytes).toBe(r.ext4SizeBytes);
    expect(statSync(out).size).toBe(r.ext4SizeBytes);
    expect(e2fsck(out).status).toBe(0);
  });
});

describe('bad input: a typed error naming the entry, and nothing left behind', () => {
  const cases: Array<{ name: string; members?: MemberSpec[]; patch?: (tar: Buffer) => Buffer; options?: ConvertOptions; code: string; entry?: string }> = [
    { name: 'truncated archive', members: [{ name: 'f', data: { size: 100_000 } }], patch: (t) => t.subarray(0, 50_000), code: 'EBADTAR', entry: 'f' },
    {
      name: 'bad header checksum',
      members: [
        { name: 'ok', data: 'x' },
        { name: 'bad', data: 'y' },
      ],
      patch: (t) => {
        const c = Buffer.from(t);
        c[1024 + 100]! ^= 1; // mode field of the second header
        return c;
      },
      code: 'EBADTAR',
      entry: 'bad',
    },
    { name: "'..' in a name", members: [{ name: 'a/../../escape', data: 'x' }], code: 'EBADTAR', entry: 'a/../../escape' },
    { name: 'absolute name', members: [{ name: '/etc/passwd', data: 'x' }], code: 'EBADTAR', entry: '/etc/passwd' },
    { name: 'hard link to a missing target', members: [{ name: 'link', type: 'hardlink', linkname: 'nowhere' }], code: 'EBADTAR', entry: 'link' },
    {
      name: 'directory replaced by a file',
      members: [
        { name: 'd', type: 'dir' },
        { name: 'd/x', data: 'x' },
        { name: 'd', data: 'now a file' },
      ],
      code: 'EBADTAR',
      entry: 'd',
    },
    {
      name: 'file larger than maxFileSizeBytes',
      members: [{ name: 'big', data: { size: 5000 } }],
      options: { maxFileSizeBytes: 4096 },
      code: 'ETOOBIG',
      entry: 'big',
    },
    {
      name: 'image larger than maxDiskSizeBytes',
      members: [{ name: 'big', data: { size: 3 << 20 } }],
      options: { maxDiskSizeBytes: 2 << 20 },
      code: 'ETOOBIG',
      entry: 'big',
    },
    {
      name: 'unknown entry type',
      members: [{ name: 'odd', data: 'x' }],
      patch: (t) => {
        const c = Buffer.from(t);
        c[156] = 'Q'.charCodeAt(0);
        fixChecksum(c, 0);
        return c;
      },
      code: 'EBADTAR',
      entry: 'odd',
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const tarDir = fresh('tar');
      const tar = join(tarDir, 'bad.tar');
      const bytes = pyTar(tar, 'ustar', c.members ?? []);
      const input = c.patch ? c.patch(bytes) : bytes;
      const outDir = fresh('out');
      const err = await convertTarToExt4([input], join(outDir, 'layer.vhd'), c.options).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LcowError);
      expect((err as LcowError).code).toBe(c.code);
      if (c.entry) expect((err as LcowError).context.entry).toBe(c.entry);
      expect(readdirSync(outDir)).toEqual([]);
    });
  }

  it('an abort (even while the input stalls) is ECANCELED and removes the temporary file', async () => {
    const tar = pyTar(join(fresh('tar'), 'a.tar'), 'pax', [{ name: 'f', data: { size: 200_000 } }]);
    const outDir = fresh('out');
    const controller = new AbortController();
    let release!: () => void;
    const stalled = new Promise<void>((r) => (release = r));
    async function* input(): AsyncGenerator<Buffer> {
      yield tar.subarray(0, 100_000);
      controller.abort();
      await stalled; // never resolves before the abort is seen
      yield tar.subarray(100_000);
    }
    const err = await convertTarToExt4(input(), join(outDir, 'x.vhd'), { signal: controller.signal }).catch((e: unknown) => e);
    release();
    expect(err).toMatchObject({ code: 'ECANCELED' });
    expect(readdirSync(outDir)).toEqual([]);
  });

  it('an output directory that does not exist is ENOTFOUND', async () => {
    const err = await convertTarToExt4([Buffer.alloc(1024)], join(root, 'no-such-dir', 'x.vhd')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOTFOUND' });
  });
});
