/**
 * The reader on the project's own converter output: the source tree is
 * tarred by GNU tar (PAX, nanosecond times, xattrs), converted by
 * convertTarToExt4 into a layer.vhd (ext4 + fixed-VHD footer), and read back
 * through the VHD block source — every entry must match the tree.
 */
import { rmSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertTarToExt4 } from '../../../src/layer/index.js';
import { openExt4Image } from '../../../src/layer/index.js';
import { openBlockSource } from '../../../src/vhd/index.js';
import { compareWithManifest, makeTree, manifest, run, tempDir, type ManifestEntry } from './helpers.js';

const dir = tempDir('ext4-reader-conv-');
const tree = join(dir, 'tree');
let want: Record<string, ManifestEntry>;

beforeAll(() => {
  makeTree(tree, true);
  want = manifest(tree);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ext4 reader on converter output', () => {
  it('reads a layer.vhd converted from a tar of the tree', async () => {
    const tar = join(dir, 'layer.tar');
    // tar cannot archive sockets; everything else goes in with full-precision times and xattrs
    run('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', '-C', tree, '--exclude=./dev/sock', '-cf', tar, '.'], {
      allowExit: [1],
    });
    const vhd = join(dir, 'layer.vhd');
    await convertTarToExt4(createReadStream(tar), vhd);
    const src = await openBlockSource(vhd);
    expect(src.kind).toBe('vhd-fixed');
    await src.close();
    const img = await openExt4Image(vhd);
    try {
      expect(img.superblock.readOnly).toBe(true);
      const expected = Object.fromEntries(Object.entries(want).filter(([p]) => p !== '/dev/sock'));
      expect(await compareWithManifest(img, expected)).toEqual([]);
    } finally {
      await img.close();
    }
  });
});
