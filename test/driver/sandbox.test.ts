/**
 * Sandboxes made on the host: a 20 GB sandbox is a valid dynamic VHDX
 * (qemu-img check) of 20 GiB whose ext4 is clean (e2fsck -fn on the raw
 * conversion), reports the requested size through the project's reader,
 * and is a few MiB on disk; the kernel mounts it read-write and it stays
 * clean after writes; the template copy is byte-identical and atomic.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changes } from '../../src/driver/host-diff/changes.js';
import { sandboxToTar } from '../../src/driver/host-diff/to-tar.js';
import { copySandboxTemplate, createSandbox } from '../../src/driver/sandbox.js';
import { openExt4Image } from '../../src/layer/index.js';
import { isLcowError } from '../../src/errors.js';

const GiB = 2 ** 30;

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'lcow-sandbox-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function noTempLeft(dir: string): void {
  expect(fs.readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
}

describe('createSandbox', () => {
  let vhdx: string;
  beforeAll(async () => {
    vhdx = path.join(work, 'sandbox.vhdx');
    await createSandbox(vhdx, 20);
  });

  it('writes a dynamic VHDX qemu-img accepts, of exactly 20 GiB, small on disk', () => {
    execFileSync('qemu-img', ['check', '-f', 'vhdx', vhdx]);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-f', 'vhdx', vhdx], { encoding: 'utf8' })) as { 'virtual-size': number };
    expect(info['virtual-size']).toBe(20 * GiB);
    expect(fs.statSync(vhdx).size).toBeLessThan(100 * 2 ** 20);
    noTempLeft(work);
  });

  it('holds an ext4 of the requested size that the project reader opens', async () => {
    const img = await openExt4Image(vhdx);
    try {
      expect(img.superblock.blocksCount * img.superblock.blockSize).toBe(20 * GiB);
      expect((await img.stat('/')).kind).toBe('dir');
    } finally {
      await img.close();
    }
  });

  it('is clean for e2fsck, mounts read-write in the kernel, and stays clean after writes', () => {
    const raw = path.join(work, 'sandbox.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', vhdx, raw]);
    execFileSync('e2fsck', ['-fn', raw]);
    const mnt = path.join(work, 'mnt');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-o', 'loop', raw, mnt]);
    try {
      fs.mkdirSync(path.join(mnt, 'upper'));
      fs.writeFileSync(path.join(mnt, 'upper', 'file'), Buffer.alloc(3 << 20, 1));
      expect(fs.statfsSync(mnt).blocks * fs.statfsSync(mnt).bsize).toBeGreaterThan(19 * GiB);
    } finally {
      execFileSync('umount', [mnt]);
    }
    execFileSync('e2fsck', ['-fn', raw]);
    fs.rmSync(raw);
  });

  it('has an empty diff before a container wrote to it', async () => {
    const chunks: Buffer[] = [];
    for await (const c of sandboxToTar(vhdx)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(Buffer.alloc(1024))).toBe(true); // just the end-of-archive blocks
    expect(await changes(vhdx, [])).toEqual([]);
  });

  it('makes any whole size of GB (1 GB here), not only the default', async () => {
    const small = path.join(work, 'small.vhdx');
    await createSandbox(small, 1);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-f', 'vhdx', small], { encoding: 'utf8' })) as { 'virtual-size': number };
    expect(info['virtual-size']).toBe(GiB);
  });

  it('copies a template byte for byte, atomically', async () => {
    const dest = path.join(work, 'copy.vhdx');
    await copySandboxTemplate(vhdx, dest);
    expect(fs.readFileSync(dest).equals(fs.readFileSync(vhdx))).toBe(true);
    noTempLeft(work);
  });
});

describe('sandbox errors', () => {
  it('refuses a bad size without touching the disk', async () => {
    const f = path.join(work, 'bad.vhdx');
    for (const size of [0, -1, 1.5, Number.NaN]) {
      await expect(createSandbox(f, size)).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EINVAL'));
    }
    expect(fs.existsSync(f)).toBe(false);
  });

  it('copySandboxTemplate: a missing template is ENOTFOUND and leaves nothing behind', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'copy-'));
    await expect(copySandboxTemplate(path.join(dir, 'nope.vhdx'), path.join(dir, 'dest.vhdx'))).rejects.toSatisfy((e: unknown) => isLcowError(e, 'ENOTFOUND'));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('copySandboxTemplate replaces an existing destination', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'copy-'));
    fs.writeFileSync(path.join(dir, 'template.vhdx'), 'template');
    fs.writeFileSync(path.join(dir, 'dest.vhdx'), 'old');
    await copySandboxTemplate(path.join(dir, 'template.vhdx'), path.join(dir, 'dest.vhdx'));
    expect(fs.readFileSync(path.join(dir, 'dest.vhdx'), 'utf8')).toBe('template');
    expect(fs.readdirSync(dir).sort()).toEqual(['dest.vhdx', 'template.vhdx']);
  });
});
