/**
 * Size and shape: sparse files keep their holes, fragmented files get deep
 * extent trees, huge directories, large streamed files with bounded memory,
 * and byte-identical output for identical input.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { readFileSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerEntry } from '../../../src/ext4/index.js';
import { TempDir, debugfs, dir, dump, expectFsckClean, file, meta, stat, symlink, withMount, writeImage } from './helpers.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());
const GiB = 1024 ** 3;

function sparseEntry(path: string, size: number, regions: Array<{ offset: number; data: Buffer }>): LayerEntry {
  return {
    kind: 'file',
    path,
    tarName: path,
    meta: meta(),
    size,
    sparse: regions.map((r) => ({ offset: r.offset, length: r.data.length })),
    body: (async function* () {
      for (const r of regions) yield r.data;
    })(),
  };
}

describe('Ext4Writer: sparse files', () => {
  it('a 3 GiB sparse file with a few regions uses only their blocks', async () => {
    const image = tmp.file('sparse.img');
    const regions = [
      { offset: 0, data: Buffer.from('head') },
      { offset: 1 * GiB + 100, data: Buffer.alloc(10_000, 0x5a) },
      { offset: 3 * GiB - 5, data: Buffer.from('tail!') },
    ];
    const res = await writeImage(image, [sparseEntry('holey', 3 * GiB, regions)]);
    expectFsckClean(image);
    const s = stat(image, '/holey');
    expect(s.size).toBe(3 * GiB);
    // head: 1 block; middle: bytes 100..10100 of its 1 GiB block → 3 blocks; tail: 1 block
    expect(s.blockcount).toBe((1 + 3 + 1) * 8);
    expect(res.sizeBytes).toBeLessThan(1024 * 1024);
    expect(statSync(image).blocks * 512).toBeLessThan(1024 * 1024);
    // Read the regions and the holes back through the kernel.
    await withMount(image, (mnt) => {
      const fd = fs.openSync(`${mnt}/holey`, 'r');
      const read = (off: number, len: number) => {
        const b = Buffer.alloc(len);
        fs.readSync(fd, b, 0, len, off);
        return b;
      };
      expect(read(0, 8).toString('latin1')).toBe('head\0\0\0\0');
      expect(read(1 * GiB + 100, 10_000).equals(Buffer.alloc(10_000, 0x5a))).toBe(true);
      expect(read(1 * GiB + 99, 1)[0]).toBe(0);
      expect(read(3 * GiB - 5, 5).toString()).toBe('tail!');
      expect(read(2 * GiB, 4096).equals(Buffer.alloc(4096))).toBe(true);
      expect(fs.fstatSync(fd).blocks).toBe(5 * 8);
      fs.closeSync(fd);
    });
  });

  it('a heavily fragmented file gets a depth-2 extent tree that reads back exactly', async () => {
    const image = tmp.file('frag.img');
    const regions: Array<{ offset: number; data: Buffer }> = [];
    for (let i = 0; i < 3000; i++) regions.push({ offset: i * 8192 + (i % 7), data: Buffer.from(`r${i};`) });
    const size = 3000 * 8192;
    await writeImage(image, [sparseEntry('frag', size, regions)]);
    expectFsckClean(image);
    const ex = debugfs(image, 'ex /frag');
    expect(ex).toMatch(/^\s*2\/\s*2\s/m); // a level-2 node: depth 2 tree
    const s = stat(image, '/frag');
    const treeBlocks = s.blockcount / 8 - 3000;
    expect(treeBlocks).toBe(9 + 1); // ceil(3000/340) = 9 leaves under 1 index block
    const data = dump(image, '/frag', tmp);
    expect(data.length).toBe(size);
    const expected = Buffer.alloc(size);
    for (const r of regions) r.data.copy(expected, r.offset);
    expect(data.equals(expected)).toBe(true);
  });
});

describe('Ext4Writer: big inputs', () => {
  it('a directory with 50 000 entries', async () => {
    const image = tmp.file('bigdir.img');
    const entries: LayerEntry[] = [dir('big')];
    for (let i = 0; i < 50_000; i++) entries.push(i % 2 ? file(`big/file-${i}`, `${i}`) : symlink(`big/link-${i}-${'x'.repeat(i % 40)}`, `t${i}`));
    await writeImage(image, entries);
    expectFsckClean(image);
    const ls = debugfs(image, 'ls /big');
    expect(ls.match(/file-\d+/g)?.length).toBe(25_000);
    expect(ls.match(/link-\d+/g)?.length).toBe(25_000);
    expect(dump(image, '/big/file-49999', tmp).toString()).toBe('49999');
    expect(stat(image, '/big/link-4-xxxx').raw).toMatch(/Fast link dest: "t4"/);
  });

  it('a directory with 70 000 subdirectories uses link count 1 (dir_nlink)', async () => {
    const image = tmp.file('nlink.img');
    const entries: LayerEntry[] = [];
    for (let i = 0; i < 70_000; i++) entries.push(dir(`p/d${i}`));
    await writeImage(image, entries);
    expectFsckClean(image);
    expect(stat(image, '/p').links).toBe(1);
    expect(stat(image, '/p/d0').links).toBe(2);
  });

  it('streams a 200 MiB file without holding it in memory', async () => {
    const image = tmp.file('large.img');
    const size = 200 * 1024 * 1024;
    const hash = createHash('sha256');
    let peakRss = 0;
    const rssBefore = process.memoryUsage().rss;
    const body = (async function* () {
      const chunk = Buffer.alloc(1 << 20);
      for (let i = 0; i < size / chunk.length; i++) {
        chunk.fill(i & 0xff);
        chunk.writeUInt32LE(i, 0);
        hash.update(chunk);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        yield chunk;
      }
    })();
    await writeImage(image, [{ kind: 'file', path: 'blob', tarName: 'blob', meta: meta(), size, body }]);
    expectFsckClean(image);
    expect(peakRss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    const s = stat(image, '/blob');
    expect(s.size).toBe(size);
    expect(s.blockcount).toBe(size / 512);
    expect(debugfs(image, 'ex /blob')).toMatch(/32768/); // split into maximal extents
    const out = tmp.file('blob.out');
    debugfs(image, `dump /blob ${out}`);
    expect(createHash('sha256').update(readFileSync(out)).digest('hex')).toBe(hash.digest('hex'));
  });
});

describe('Ext4Writer: determinism', () => {
  it('the same entries give the same bytes (and UUID); different content a different UUID', async () => {
    const make = (extra: string): LayerEntry[] => [
      dir('etc'),
      file('etc/a', 'alpha'),
      file('x/y/z', Buffer.alloc(70_000, 3)),
      symlink('l', 'etc/a'),
      file('etc/a', 'alpha2' + extra, { xattrs: new Map([['user.q', Buffer.from('1')]]) }),
    ];
    const a = tmp.file('det-a.img');
    const b = tmp.file('det-b.img');
    const c = tmp.file('det-c.img');
    const ra = await writeImage(a, make(''));
    const rb = await writeImage(b, make(''));
    const rc = await writeImage(c, make('!'));
    expectFsckClean(a);
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(sha(a)).toBe(sha(b));
    expect(ra).toEqual(rb);
    expect(rc.uuid).not.toBe(ra.uuid);
    expect(debugfs(a, 'stats')).toContain(`Filesystem UUID:          ${ra.uuid}`);
  });
});
