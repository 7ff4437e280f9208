/** dm-verity tree appended after an ext4 image, checked with veritysetup. */
import { spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerEntry } from '../../src/ext4/index.js';
import { appendVerityTree, verityLevelBlocks } from '../../src/ext4/verity.js';
import { TempDir, file, writeImage } from './writer/helpers.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());

function verify(path: string, root: string, hashOffset: number): { status: number | null; output: string } {
  const r = spawnSync('veritysetup', ['verify', path, path, root, `--hash-offset=${hashOffset}`], { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

async function imageWithTree(name: string, entries: LayerEntry[]) {
  const path = tmp.file(name);
  const res = await writeImage(path, entries);
  const fh = await open(path, 'r+');
  try {
    return { path, ext4: res, verity: await appendVerityTree(fh, res.sizeBytes) };
  } finally {
    await fh.close();
  }
}

describe('appendVerityTree', () => {
  it('veritysetup accepts the tree (reading parameters from our superblock) and rejects a corrupted block', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const { path, ext4, verity } = await imageWithTree('v.img', [file('a', 'hello'), file('big', big)]);
    expect(verity.hashOffsetBytes).toBe(ext4.sizeBytes);
    expect(statSync(path).size).toBe(verity.totalSizeBytes);
    expect(verity.rootHash).toMatch(/^[0-9a-f]{64}$/);
    expect(verity.salt).toMatch(/^[0-9a-f]{64}$/);
    const ok = verify(path, verity.rootHash, verity.hashOffsetBytes);
    expect(ok.status, ok.output).toBe(0);
    const wrongRoot = verify(
      path,
      verity.rootHash.replace(/^./, (c) => (c === '0' ? '1' : '0')),
      verity.hashOffsetBytes,
    );
    expect(wrongRoot.status).not.toBe(0);

    // Flip one byte in the middle of the file data: verification must fail.
    const fh = await open(path, 'r+');
    const b = Buffer.alloc(1);
    const at = Math.floor(ext4.sizeBytes / 2);
    await fh.read(b, 0, 1, at);
    b[0]! ^= 0xff;
    await fh.write(b, 0, 1, at);
    await fh.close();
    const bad = verify(path, verity.rootHash, verity.hashOffsetBytes);
    expect(bad.status).not.toBe(0);
    expect(bad.output).toMatch(/corrupt|fail|verification/i);
  });

  it('is deterministic and handles single-level and multi-level trees', async () => {
    const a = await imageWithTree('d1.img', [file('x', 'same')]);
    const b = await imageWithTree('d2.img', [file('x', 'same')]);
    expect(a.verity).toEqual(b.verity);
    expect(verify(a.path, a.verity.rootHash, a.verity.hashOffsetBytes).status).toBe(0);
    expect(verityLevelBlocks(100)).toEqual([1]);
    expect(verityLevelBlocks(128)).toEqual([1]);
    expect(verityLevelBlocks(129)).toEqual([2, 1]);
    expect(verityLevelBlocks(128 * 128 + 1)).toEqual([129, 2, 1]);
  });

  it('verifies an image large enough for three tree levels', async () => {
    const size = 70 * 1024 * 1024; // > 128*128 blocks of 4 KiB
    const big = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) big.writeUInt32LE(i / 4096, i);
    const { path, verity, ext4 } = await imageWithTree('three.img', [file('blob', big)]);
    expect(verityLevelBlocks(ext4.sizeBytes / 4096).length).toBe(3);
    const ok = verify(path, verity.rootHash, verity.hashOffsetBytes);
    expect(ok.status, ok.output).toBe(0);
  });
});
