import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import { openExt4Image } from '../../../src/layer/index.js';
import {
  canLoopMount,
  compareWithManifest,
  debugfsDump,
  e2fsprogsView,
  kernelImage,
  makeTree,
  manifest,
  mkfsFromTree,
  run,
  tempDir,
  type ManifestEntry,
} from './helpers.js';

const dir = tempDir('ext4-reader-');
const tree = join(dir, 'tree');
const small = join(dir, 'small');
let want: Record<string, ManifestEntry>;
let wantSmall: Record<string, ManifestEntry>;
/** The same, as far as mkfs.ext4 -d can store it (whole seconds, …). */
let mkfsWant: Record<string, ManifestEntry>;
let mkfsWantSmall: Record<string, ManifestEntry>;

beforeAll(() => {
  makeTree(tree);
  makeTree(small, true);
  want = manifest(tree);
  wantSmall = manifest(small);
  mkfsWant = e2fsprogsView(want);
  mkfsWantSmall = e2fsprogsView(wantSmall);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectSame(image: string, expected: () => Record<string, ManifestEntry>, skipPaths: string[] = []): Promise<void> {
  const img = await openExt4Image(image);
  try {
    expect(await compareWithManifest(img, expected(), { skipPaths })).toEqual([]);
  } finally {
    await img.close();
  }
}

describe('ext4 reader against e2fsprogs and the kernel', () => {
  it('reads mkfs.ext4 -d output (4 KiB blocks, 256-byte inodes, metadata_csum, 64bit, flex_bg)', async () => {
    const image = join(dir, 'mkfs.img');
    mkfsFromTree(image, tree, 96, ['-b', '4096', '-I', '256', '-O', '64bit,metadata_csum']);
    await expectSame(image, () => mkfsWant);
    const img = await openExt4Image(image);
    expect(img.superblock.blockSize).toBe(4096);
    expect(img.superblock.label).toBe('lcow-test');
    expect(img.superblock.features).toEqual(expect.arrayContaining(['extent', 'flex_bg', '64bit', 'metadata_csum']));
    await img.close();
  });

  it('reads the same image after e2fsck -fyD (hashed directories)', async () => {
    const image = join(dir, 'mkfs.img');
    const hashed = join(dir, 'hashed.img');
    copyFileSync(image, hashed);
    run('e2fsck', ['-fyD', hashed], { allowExit: [1] });
    run('e2fsck', ['-fn', hashed]);
    // the 5000-entry directory is now an htree
    expect(run('debugfs', ['-R', 'htree /many', hashed]).slice(0, 400)).toMatch(/Root node dump/);
    const img = await openExt4Image(hashed);
    expect((await img.stat('/many')).flags & 0x1000).toBe(0x1000);
    expect((await img.readdir('/many')).length).toBe(5000);
    await img.close();
    await expectSame(hashed, () => mkfsWant);
  });

  it('reads 1 KiB blocks with 128-byte inodes and 32-byte descriptors', async () => {
    const image = join(dir, 'k1.img');
    mkfsFromTree(image, small, 48, ['-b', '1024', '-I', '128', '-O', '^64bit,^metadata_csum']);
    const img = await openExt4Image(image);
    expect(img.superblock.blockSize).toBe(1024);
    expect(img.superblock.inodeSize).toBe(128);
    expect(img.superblock.descSize).toBe(32);
    await img.close();
    await expectSame(image, () => mkfsWantSmall);
  });

  it('reads 2 KiB blocks with meta_bg', async () => {
    const image = join(dir, 'k2.img');
    mkfsFromTree(image, small, 64, ['-b', '2048', '-O', 'meta_bg,^resize_inode']);
    const img = await openExt4Image(image);
    expect(img.superblock.features).toContain('meta_bg');
    await img.close();
    await expectSame(image, () => mkfsWantSmall);
  });

  it('reads inline_data images', async () => {
    const image = join(dir, 'inline.img');
    mkfsFromTree(image, small, 48, ['-O', 'inline_data']);
    // e2fsprogs 1.47 cuts sparse files short when inline_data is on (a mkfs bug, e2fsck agrees with it):
    // those two are checked against debugfs' own dump instead of the source tree.
    const sparse = ['/files/sparse', '/files/hole-at-end'];
    await expectSame(image, () => mkfsWantSmall, sparse);
    const img = await openExt4Image(image);
    for (const p of sparse) {
      const out = join(dir, 'dump.bin');
      debugfsDump(image, p, out);
      expect((await img.readFile(p)).equals(readFileSync(out))).toBe(true);
    }
    // inline files and directories really are there
    let inlineFiles = 0;
    let inlineDirs = 0;
    for await (const { stat } of img.walk()) {
      if (stat.flags & 0x10000000) {
        if (stat.kind === 'dir') inlineDirs++;
        else inlineFiles++;
      }
    }
    expect(inlineFiles).toBeGreaterThan(5);
    expect(inlineDirs).toBeGreaterThan(0);
    await img.close();
  });

  it('reads ext2-style block maps (no extents)', async () => {
    const image = join(dir, 'ext2.img');
    mkfsFromTree(image, small, 48, ['-I', '256'], 'ext2');
    const img = await openExt4Image(image);
    expect(img.superblock.features).not.toContain('extent');
    await img.close();
    await expectSame(image, () => mkfsWantSmall);
  });

  it('reads a two-level htree (1 KiB blocks) and a 5 GiB sparse file by range', async () => {
    const t = join(dir, 'htree2');
    mkdirSync(join(t, 'many'), { recursive: true });
    const names: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const name = `entry-${String(i).padStart(5, '0')}-${'x'.repeat(i % 40)}`;
      names.push(name);
      writeFileSync(join(t, 'many', name), '');
    }
    const tail = Buffer.from('tail-bytes');
    const fd = openSync(join(t, 'huge'), 'w');
    writeSync(fd, tail, 0, tail.length, 5 * 1024 ** 3);
    closeSync(fd);
    const image = join(dir, 'htree2.img');
    mkfsFromTree(image, t, 32, ['-b', '1024']);
    run('e2fsck', ['-fyD', image], { allowExit: [1] });
    run('e2fsck', ['-fn', image]);
    expect(run('debugfs', ['-R', 'htree /many', image])).toMatch(/Indirect levels: 1/);
    const img = await openExt4Image(image);
    try {
      expect((await img.readdir('/many')).map((e) => e.name)).toEqual(names.sort());
      expect((await img.stat(`/many/${names[4321]}`)).kind).toBe('file');
      const st = await img.stat('/huge');
      expect(st.size).toBe(5 * 1024 ** 3 + tail.length);
      const chunks: Buffer[] = [];
      for await (const c of img.createReadStream('/huge', { start: 5 * 1024 ** 3 - 6 })) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks)).toEqual(Buffer.concat([Buffer.alloc(6), tail]));
      await expect(img.readFile('/huge')).rejects.toMatchObject({ code: 'ETOOBIG' });
    } finally {
      await img.close();
    }
  });

  it.runIf(canLoopMount())('reads an image the Linux kernel wrote (cp -a into a loop mount)', async () => {
    const image = join(dir, 'kernel.img');
    kernelImage(image, tree, 128);
    await expectSame(image, () => want);
    const img = await openExt4Image(image);
    expect((await img.stat('/many')).flags & 0x1000).toBe(0x1000); // the kernel built an htree
    await img.close();
  });

  it.runIf(canLoopMount())('reads an xattr value the kernel stored in its own inode (ea_inode)', async () => {
    const image = join(dir, 'ea.img');
    const value = Buffer.alloc(20480);
    for (let i = 0; i < value.length; i++) value[i] = i % 251;
    rmSync(image, { force: true });
    run('mkfs.ext4', ['-q', '-F', '-O', 'ea_inode', image, '16M']);
    const mnt = tempDir('ext4-ea-');
    run('mount', ['-o', 'loop', image, mnt]);
    try {
      // set on the mounted file: the host's own file system may not take a 20 KiB value
      writeFileSync(join(mnt, 'f'), 'x');
      run('python3', ['-c', `import os; os.setxattr(${JSON.stringify(join(mnt, 'f'))}, 'user.huge', bytes(i % 251 for i in range(20480)))`]);
    } finally {
      run('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
    const img = await openExt4Image(image);
    expect(img.superblock.features).toContain('ea_inode');
    expect((await img.listXattrs('/f')).get('user.huge')).toEqual(value);
    await img.close();
  });

  it('reads the image inside a VHDX and a fixed VHD made by qemu-img', async () => {
    const image = join(dir, 'mkfs.img');
    const vhdx = join(dir, 'mkfs.vhdx');
    const vhd = join(dir, 'mkfs.vhd');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', image, vhdx]);
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', image, vhd]);
    await expectSame(vhdx, () => mkfsWant);
    await expectSame(vhd, () => mkfsWant);
  });
});

describe('ext4 reader API', () => {
  let image: string;
  beforeAll(() => {
    image = join(dir, 'api.img');
    mkfsFromTree(image, small, 48);
  });

  it('stat reports kinds, devices, times and block counts', async () => {
    const img = await openExt4Image(image);
    const st = await img.stat('/dev/bignum');
    expect(st).toMatchObject({ kind: 'char', rdevMajor: 300, rdevMinor: 70000, mode: 0o600 });
    // mkfs -d stores whole seconds (the kernel-image test covers nanoseconds and epoch bits)
    expect((await img.stat('/times/pre-1970')).mtime).toEqual({ sec: -1_000_000_000, nsec: 0 });
    expect((await img.stat('/files/size-65536')).blocks).toBe(128);
    expect((await img.stat('/')).inode).toBe(2);
    expect((await img.stat('/links/long')).kind).toBe('symlink');
    expect(await img.stat('/files/../links/./short')).toMatchObject({ kind: 'symlink', size: 5 });
    await img.close();
  });

  it('readdir lists names, kinds and inode numbers sorted by name', async () => {
    const img = await openExt4Image(image);
    const entries = await img.readdir('/dev');
    expect(entries.map((e) => [e.name, e.kind])).toEqual([
      ['bignum', 'char'],
      ['fifo', 'fifo'],
      ['null', 'char'],
      ['sda1', 'block'],
      ['sock', 'socket'],
      ['whiteout', 'char'],
    ]);
    expect(entries.every((e) => e.inode > 11)).toBe(true);
    await img.close();
  });

  it('gives ENOTFOUND for missing paths and through non-directories, EINVAL for the wrong kind', async () => {
    const img = await openExt4Image(image);
    for (const p of ['/nope', '/files/size-1/x', '/links/short/x']) {
      const err = await img.stat(p).catch((e: unknown) => e);
      expect(isLcowError(err, 'ENOTFOUND')).toBe(true);
    }
    expect(await img.tryStat('/nope')).toBeUndefined();
    await expect(img.readFile('/dev')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(img.readdir('/files/size-1')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(img.readlink('/files/size-1')).rejects.toMatchObject({ code: 'EINVAL' });
    await img.close();
  });

  it('streams a sparse file with holes as zeros', async () => {
    const img = await openExt4Image(image);
    const whole = await img.readFile('/files/hole-at-end');
    expect(whole.length).toBe(3 * 1024 * 1024);
    expect(whole.subarray(0, 4).toString()).toBe('head');
    expect(whole.subarray(4).every((b) => b === 0)).toBe(true);
    await img.close();
  });

  it('rejects what is not ext4 with EBADIMAGE and a missing file with ENOTFOUND', async () => {
    const junk = join(dir, 'junk.img');
    run('dd', ['if=/dev/zero', `of=${junk}`, 'bs=1024', 'count=64']);
    await expect(openExt4Image(junk)).rejects.toMatchObject({ code: 'EBADIMAGE' });
    await expect(openExt4Image(join(dir, 'missing.img'))).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});
