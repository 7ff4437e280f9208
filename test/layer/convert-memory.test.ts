/**
 * Memory is bounded by metadata, never by file size: a layer holding a 3 GiB
 * sparse file and a 200 MiB ordinary file converts in a child process whose
 * peak RSS (getrusage, via /usr/bin/time) stays under 150 MiB. The child runs
 * the bundled CLI, so the number is the converter's, not a TS loader's.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleConverterCli, e2fsck, sparseFilesEqual, withLoopMount } from '../helpers/tar-fixtures.js';

const repo = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'lcow-convert-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('converter memory', () => {
  it('converts a 3 GiB sparse file and a 200 MiB file under 150 MiB peak RSS', async () => {
    const src = join(dir, 'src');
    execFileSync('mkdir', ['-p', src]);
    // 3 GiB sparse file with data at the start, the middle and the end.
    execFileSync('python3', [
      '-c',
      `
import os
with open(os.path.join('${src}', 'sparse.img'), 'wb') as f:
    f.truncate(3 << 30)
    for off in (0, 1536 << 20, (3 << 30) - 65536):
        f.seek(off); f.write(os.urandom(65536))
`,
    ]);
    execFileSync('sh', ['-c', `head -c ${200 << 20} /dev/urandom > "${join(src, 'big.bin')}"`]);
    const tar = join(dir, 'layer.tar');
    execFileSync('tar', ['--format=pax', '--sparse', '-C', src, '-cf', tar, 'sparse.img', 'big.bin']);
    expect(statSync(tar).size).toBeLessThan(250 << 20); // the sparse file was archived sparse

    const cli = await bundleConverterCli(repo);
    const out = join(dir, 'layer.vhd');
    const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, cli, tar, out], { encoding: 'utf8' });
    console.log(`peak RSS converting 3 GiB sparse + 200 MiB: ${r.stderr.trim().split('\n').at(-1)} KiB`);
    expect(r.status, r.stderr).toBe(0);
    const peakKiB = Number(r.stderr.trim().split('\n').at(-1));
    expect(peakKiB).toBeGreaterThan(10_000); // sanity: a real number was read
    expect(peakKiB / 1024).toBeLessThan(150);

    // The image really holds the data: sparse stays sparse, contents identical.
    expect(statSync(out).size).toBeLessThan(260 << 20);
    expect(e2fsck(out).status).toBe(0);
    await withLoopMount(out, (mnt) => {
      for (const name of ['sparse.img', 'big.bin']) {
        // Compare the union of both files' data segments (SEEK_DATA/SEEK_HOLE):
        // everything else is a hole in both, so 3 GiB of zeros need not be read.
        expect({ name, same: sparseFilesEqual(join(mnt, name), join(src, name)) }).toEqual({ name, same: 'equal' });
      }
      expect(statSync(join(mnt, 'sparse.img')).size).toBe(3 * 2 ** 30);
      expect(statSync(join(mnt, 'sparse.img')).blocks * 512).toBeLessThan(1 << 20);
    });
  }, 300_000);
});
