// Read-write parents: moby's Linux daemon puts a read-write `<id>-init` layer
// under every container. In the VM the parent's sandbox is attached read-only
// and its upper directory joins the union as a lower dir; a parent mounted
// read-write meanwhile is EBUSY either way round. (The fake backend keeps disk
// contents in memory; the host files here are real images, because whether a
// parent has an upper directory is read on the host.)
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { LcowDriver } from '../../src/driver/index.js';
import { layerTar } from './helpers/layers.js';

let root: string;
let backend: FakeBackend;
let d: LcowDriver;

beforeEach(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'lcow-rw-parent-'));
  backend = new FakeBackend();
  d = await LcowDriver.open(root, { backend });
  await d.applyDiff('base', '', layerTar([{ name: 'etc/motd', data: 'base\n' }]));
  backend.disks.define(path.join(root, 'base', 'layer.vhd'), { files: { 'etc/motd': 'base\n', 'etc/os': 'debian\n' } });
});
afterEach(async () => {
  await d.cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** An init layer whose sandbox has an upper directory, as one that was mounted and written has. */
async function writtenInit(id: string): Promise<void> {
  await d.createReadWrite(id, 'base');
  // A real image with /upper in it, for the host-side check (a converted layer: raw ext4 behind a VHD footer).
  await d.applyDiff('with-upper', '', layerTar([{ name: 'upper/.dockerenv', data: '' }]));
  copyFileSync(path.join(root, 'with-upper', 'layer.vhd'), path.join(root, id, 'sandbox.vhdx'));
  await d.remove('with-upper');
  backend.disks.define(path.join(root, id, 'sandbox.vhdx'), {
    files: { 'upper/.dockerenv': '', 'upper/etc/hosts': 'hosts\n', 'upper/etc/os': { whiteout: true }, 'work/work': { dir: true } },
  });
}

describe('read-write parents', () => {
  it("a container on a written init layer: the init's upper dir is a read-only lower of the union", async () => {
    await writtenInit('c-init');
    await d.createReadWrite('c', 'c-init');
    const rootfs = await (await d.get('c')).rootfs();
    const vm = backend.vms[0]!;
    const cat = async (p: string) => (await vm.exec(['cat', `${rootfs}${p}`])).stdout.toString();
    expect(await cat('/etc/hosts')).toBe('hosts\n');
    expect(await cat('/etc/motd')).toBe('base\n');
    expect((await vm.exec(['test', '-e', `${rootfs}/etc/os`])).exitCode).toBe(1); // the init layer's whiteout
    expect((await vm.exec(['tee', `${rootfs}/etc/hosts`], { stdin: 'mine\n' })).exitCode).toBe(0);
    const init = [...vm.scsi.values()].find((s) => s.disk.hostPath === path.join(root, 'c-init', 'sandbox.vhdx'));
    expect(init?.readOnly).toBe(true);
    await d.put('c');
    // On the host a read-write parent is a layer too (the fake backend's writes are in memory: nothing on the host image).
    expect(await d.changes('c')).toEqual([]);
    expect(await d.diffSize('c')).toBe(0);
    expect((await d.changes('c-init')).map((c) => c.path)).toEqual(['/.dockerenv']);
    expect(backend.disks.get(path.join(root, 'c', 'sandbox.vhdx')).tree.get('upper/etc/hosts')).toEqual({ kind: 'file', data: Buffer.from('mine\n') });
    expect(backend.disks.get(path.join(root, 'c-init', 'sandbox.vhdx')).tree.get('upper/etc/hosts')).toEqual({ kind: 'file', data: Buffer.from('hosts\n') });
  });

  it('a read-write parent never mounted has no upper dir and adds nothing', async () => {
    await d.createReadWrite('fresh-init', 'base');
    await d.createReadWrite('c', 'fresh-init');
    const rootfs = await (await d.get('c')).rootfs();
    expect((await backend.vms[0]!.exec(['cat', `${rootfs}/etc/motd`])).stdout.toString()).toBe('base\n');
    const union = [...backend.vms[0]!.guest.mounts.values()].find((m) => m.kind === 'overlay');
    expect(union?.kind === 'overlay' && union.lowers).toHaveLength(2); // base and runc's mount points, no init
    await d.put('c');
  });

  it('a read-write parent mounted read-write is EBUSY below a child, and a sandbox under a mounted child cannot be mounted', async () => {
    await writtenInit('c-init');
    await d.createReadWrite('c', 'c-init');
    const init = await d.get('c-init');
    await init.rootfs();
    const child = await d.get('c');
    await expect(child.rootfs()).rejects.toMatchObject({ code: 'EBUSY', context: { parent: 'c-init' } });
    await expect(d.changes('c')).rejects.toMatchObject({ code: 'EBUSY' });
    await expect(d.diffSize('c')).rejects.toMatchObject({ code: 'EBUSY' });
    await d.put('c-init');
    await child.rootfs();
    const again = await d.get('c-init');
    await expect(again.rootfs()).rejects.toMatchObject({ code: 'EBUSY', context: { usedBy: 'c' } });
    await d.put('c-init');
    await d.put('c');
  });
});
