/**
 * formatEmptyExt4: a sparse description of a writable empty ext4. Written
 * into a sparse file, it must pass e2fsck, mount read-write, take a file,
 * and pass e2fsck again after the kernel wrote to it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatEmptyExt4 } from '../../../src/ext4/index.js';
import type { EmptyExt4Image } from '../../../src/ext4/index.js';
import { isLcowError } from '../../../src/errors.js';
import { TempDir, debugfs, expectFsckClean, stat, withMount } from './helpers.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());
const GB = 1000 ** 3;

function materialise(img: EmptyExt4Image, path: string): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, img.size);
    for (const r of img.runs) writeSync(fd, r.data, 0, r.data.length, r.offset);
  } finally {
    closeSync(fd);
  }
}

describe('formatEmptyExt4', () => {
  it('describes a 20 GB file system with about a megabyte of runs', () => {
    const img = formatEmptyExt4(20 * GB);
    expect(img.size).toBe(Math.floor((20 * GB) / 4096) * 4096);
    const bytes = img.runs.reduce((n, r) => n + r.data.length, 0);
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    for (let i = 1; i < img.runs.length; i++) expect(img.runs[i]!.offset).toBeGreaterThan(img.runs[i - 1]!.offset + img.runs[i - 1]!.data.length - 1);
    expect(img.runs[img.runs.length - 1]!.offset + img.runs[img.runs.length - 1]!.data.length).toBeLessThanOrEqual(img.size);
  });

  it('20 GB: e2fsck clean, mounts read-write, takes a file, still clean after unmount', async () => {
    const path = tmp.file('sandbox.img');
    materialise(formatEmptyExt4(20 * GB, { uuidSeed: 'sandbox-1' }), path);
    expect(statSync(path).blocks * 512).toBeLessThan(4 * 1024 * 1024);
    expectFsckClean(path);
    const root = stat(path, '/');
    expect([root.mode, root.links]).toEqual([0o755, 3]);
    expect(stat(path, '/lost+found').raw).toMatch(/^Inode: 11\s/);
    const stats = debugfs(path, 'stats');
    expect(stats).not.toMatch(/read-only/);
    expect(stats).toMatch(/Filesystem features:.*dir_index/);
    expect(Number(stats.match(/Inode count:\s+(\d+)/)?.[1])).toBeGreaterThan(1_000_000);
    await withMount(
      path,
      (mnt) => {
        writeFileSync(`${mnt}/hello.txt`, 'written by the kernel\n');
        execFileSync('mkdir', ['-p', `${mnt}/a/b/c`]);
        for (let i = 0; i < 200; i++) writeFileSync(`${mnt}/a/b/c/f${i}`, Buffer.alloc(i * 100, i));
        const df = execFileSync('df', ['-B1', '--output=size,avail', mnt], { encoding: 'utf8' }).trim().split('\n')[1]!.trim().split(/\s+/).map(Number);
        expect(df[0]).toBeGreaterThan(19.5 * GB);
      },
      true,
    );
    expectFsckClean(path);
    await withMount(path, (mnt) => {
      expect(readFileSync(`${mnt}/hello.txt`, 'utf8')).toBe('written by the kernel\n');
      expect(readFileSync(`${mnt}/a/b/c/f199`).equals(Buffer.alloc(19900, 199))).toBe(true);
    });
  });

  it('small and odd sizes are clean too; the UUID follows the seed', () => {
    for (const size of [1024 * 1024, 129 * 1024 * 1024 + 4096, 300 * 1024 * 1024]) {
      const path = tmp.file(`small-${size}.img`);
      materialise(formatEmptyExt4(size), path);
      expectFsckClean(path);
    }
    const uuid = (seed: string) =>
      formatEmptyExt4(64 * 1024 * 1024, { uuidSeed: seed })
        .runs[0]!.data.subarray(1024 + 0x68, 1024 + 0x78)
        .toString('hex');
    expect(uuid('a')).toBe(uuid('a'));
    expect(uuid('a')).not.toBe(uuid('b'));
  });

  it('rejects sizes too small to hold the metadata', () => {
    let err: unknown;
    try {
      formatEmptyExt4(4096);
    } catch (e) {
      err = e;
    }
    expect(isLcowError(err, 'EINVAL')).toBe(true);
  });
});
