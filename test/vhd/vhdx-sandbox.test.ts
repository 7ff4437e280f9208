/**
 * The sandbox path end to end on the host: a 20 GB ext4 formatted the way
 * hcsshim formats scratch disks, turned into a SparseImage (its data regions
 * only) and written as a dynamic VHDX. The VHDX must stay a few MiB, pass
 * qemu-img check, expand back to a file system e2fsck accepts, and be
 * readable by the ext4 reader directly.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SparseImage } from '../../src/vhd/index.js';
import { openExt4Image } from '../../src/layer/index.js';
import { formatEmptyExt4 } from '../../src/ext4/index.js';
import { createVhdx } from '../../src/vhd/vhdx/writer.js';

const dir = mkdtempSync(join(tmpdir(), 'vhdx-sandbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The data regions of a sparse file (SEEK_DATA/SEEK_HOLE), as a SparseImage. */
function sparseImageOf(path: string): SparseImage {
  const regions = JSON.parse(
    execFileSync(
      'python3',
      [
        '-c',
        `import os, json, sys
fd = os.open(sys.argv[1], os.O_RDONLY); end = os.fstat(fd).st_size; out = []; pos = 0
while pos < end:
    try: d = os.lseek(fd, pos, os.SEEK_DATA)
    except OSError: break
    h = os.lseek(fd, d, os.SEEK_HOLE); out.append([d, h - d]); pos = h
print(json.dumps(out))`,
        path,
      ],
      { encoding: 'utf8' },
    ),
  ) as Array<[number, number]>;
  const fd = openSync(path, 'r');
  try {
    const runs = regions.map(([offset, length]) => {
      const data = Buffer.alloc(length);
      readSync(fd, data, 0, length, offset);
      return { offset, data };
    });
    return { size: statSync(path).size, runs };
  } finally {
    closeSync(fd);
  }
}

describe('20 GB sandbox VHDX', () => {
  it('is a few MiB, checks clean, and holds the file system mkfs made', async () => {
    const raw = join(dir, 'sandbox.raw');
    execFileSync('truncate', ['-s', '20G', raw]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=1,nodiscard', '-O', '^has_journal,sparse_super2,^resize_inode', raw]);
    const img = sparseImageOf(raw);
    const vhdx = join(dir, 'sandbox.vhdx');
    const res = await createVhdx(vhdx, img);
    expect(res.virtualSize).toBe(20 * 1024 ** 3);
    expect(statSync(vhdx).size).toBeLessThan(64 * 1024 * 1024);
    execFileSync('qemu-img', ['check', '-f', 'vhdx', vhdx]);

    const fs = await openExt4Image(vhdx);
    expect(fs.superblock.blocksCount * fs.superblock.blockSize).toBe(20 * 1024 ** 3);
    expect((await fs.readdir('/')).map((e) => e.name)).toEqual(['lost+found']);
    await fs.close();

    const back = join(dir, 'back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', vhdx, back]);
    execFileSync('e2fsck', ['-fn', back]);
  });

  it("holds the project formatter's empty ext4 (formatEmptyExt4 → createVhdx)", async () => {
    const size = 20 * 1024 ** 3;
    const vhdx = join(dir, 'formatted.vhdx');
    const res = await createVhdx(vhdx, formatEmptyExt4(size));
    expect(res.virtualSize).toBe(size);
    expect(statSync(vhdx).size).toBeLessThan(64 * 1024 * 1024);
    execFileSync('qemu-img', ['check', '-f', 'vhdx', vhdx]);
    const fs = await openExt4Image(vhdx);
    expect(fs.superblock.blocksCount * fs.superblock.blockSize).toBe(size);
    expect((await fs.readdir('/')).map((e) => e.name)).toEqual(['lost+found']);
    await fs.close();
    const back = join(dir, 'formatted.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', vhdx, back]);
    execFileSync('e2fsck', ['-fn', back]);
  });
});
