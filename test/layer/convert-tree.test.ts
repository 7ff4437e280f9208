/**
 * A real-world tree: this repo's node_modules, archived by GNU tar in PAX
 * format (nanosecond mtimes), converted, checked by e2fsck -fn and compared
 * through a loop mount with the source tree itself: every path, type, mode,
 * owner, size, sha256, symlink target and mtime to the nanosecond.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertTarToExt4, readFileChunks } from '../../src/layer/index.js';
import { describeTree, e2fsck, withLoopMount, type TreeNode } from '../helpers/tar-fixtures.js';

const repo = resolve(import.meta.dirname, '../..');
// A git worktree may link node_modules to the main checkout's: archive the real directory.
const modules = realpathSync(join(repo, 'node_modules'));
const dir = mkdtempSync(join(tmpdir(), 'lcow-convert-tree-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('real-world tree', () => {
  it('node_modules converts to an e2fsck-clean image identical to the source tree', async () => {
    const tar = join(dir, 'nm.tar');
    // Excluding the vitest/vite/tsx caches that test runs (this one or another beside it) write into meanwhile.
    const name = basename(modules);
    execFileSync('tar', [
      '--format=pax',
      `--exclude=${name}/.cache`,
      `--exclude=${name}/.vite`,
      `--exclude=${name}/.vitest`,
      `--exclude=${name}/.vite-temp`,
      '-C',
      dirname(modules),
      '-cf',
      tar,
      name,
    ]);
    const out = join(dir, 'nm.vhd');
    // Through the buffer-reusing reader the CLI uses: every byte is then compared below.
    const result = await convertTarToExt4(readFileChunks(tar, { chunkSize: 100_000, ring: 2 }), out);
    expect(result.entries).toBeGreaterThan(1000);
    const fsck = e2fsck(out);
    expect(fsck.status, fsck.output).toBe(0);

    const source = describeTree(modules, { xattrPrefixes: [] });
    for (const key of [...source.keys()]) if (/^\.(cache|vite|vitest|vite-temp)(\/|$)/.test(key)) source.delete(key);
    await withLoopMount(out, (mnt) => {
      const image = describeTree(join(mnt, name), { xattrPrefixes: [] });
      expect(image.size).toBe(source.size);
      const pick = (n: TreeNode) => ({
        path: n.path,
        type: n.type,
        mode: n.mode.toString(8),
        uid: n.uid,
        gid: n.gid,
        size: n.size,
        sha256: n.sha256,
        target: n.target,
        mtimeNs: n.mtimeNs,
      });
      let compared = 0;
      for (const [path, s] of source) {
        const i = image.get(path);
        expect(i, path).toBeDefined();
        expect(pick(i!)).toEqual(pick(s));
        compared++;
      }
      expect(compared).toBe(source.size);
    });
  }, 300_000);
});
