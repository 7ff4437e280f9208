// Driver logic against the in-memory fake backend: layout, chains, ref
// counts, VM counts per mode, crash leftovers. Layer images here are
// placeholder files (the fake backend never reads them); content round trips
// are in the graphtest and real-VM files.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { LcowDriver } from '../../src/driver/index.js';

let root: string;
let backend: FakeBackend;
let created: string[];

async function open(options: string[] = []): Promise<LcowDriver> {
  return LcowDriver.open(root, { options, backend, onServiceVmCreate: (id) => created.push(id) });
}

/** A read-only layer with a placeholder image. */
async function layer(d: LcowDriver, id: string, parent = ''): Promise<void> {
  await d.create(id, parent);
  writeFileSync(path.join(root, id, 'layer.vhd'), Buffer.alloc(4096));
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'lcow-driver-'));
  backend = new FakeBackend();
  created = [];
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('LcowDriver on the fake backend', () => {
  it('create writes layerchain.json (parents nearest first) and is atomic about ids', async () => {
    const d = await open();
    await layer(d, 'base');
    await layer(d, 'mid', 'base');
    await d.create('top', 'mid');
    expect(JSON.parse(readFileSync(path.join(root, 'top', 'layerchain.json'), 'utf8'))).toEqual([path.join(root, 'mid'), path.join(root, 'base')]);
    expect(JSON.parse(readFileSync(path.join(root, 'base', 'layerchain.json'), 'utf8'))).toEqual([]);
    expect(await d.exists('top')).toBe(true);
    expect(await d.exists('nope')).toBe(false);
    expect(await d.exists('../etc')).toBe(false);
    await expect(d.create('top', 'mid')).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(d.create('orphan', 'missing')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(d.create('a/b')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(d.create('x-removing')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(d.create('cache')).rejects.toMatchObject({ code: 'EINVAL' });
    expect(readdirSync(root).sort()).toEqual(['base', 'cache', 'mid', 'top']);
    expect(await d.getMetadata('mid')).toMatchObject({ dir: path.join(root, 'mid'), kind: 'layer', parents: 'base' });
    expect(await d.getMetadata('top')).toMatchObject({ kind: 'empty', parents: 'mid,base' });
    expect(await d.getLayerPath('mid')).toBe(path.join(root, 'mid'));
    await expect(d.getLayerPath('nope')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('many parallel creates: distinct ids all succeed, one id exactly once', async () => {
    const d = await open();
    await layer(d, 'base');
    const distinct = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => d.create(`l${i}`, 'base')));
    expect(distinct.every((r) => r.status === 'fulfilled')).toBe(true);
    const same = await Promise.allSettled(Array.from({ length: 10 }, () => d.create('same', 'base')));
    expect(same.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of same.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) expect(r.reason).toMatchObject({ code: 'EEXIST' });
    expect(readdirSync(root).filter((n) => n.includes('-creating-'))).toEqual([]);
  });

  it('serviceVm.vpmem sizes the service VMs (layers past the count go to SCSI); bad sizes fail at open', async () => {
    const d = await LcowDriver.open(root, { backend, serviceVm: { vpmem: { count: 0 } } });
    await layer(d, 'base');
    await layer(d, 'app', 'base');
    const h = await d.get('app');
    await h.rootfs();
    const vm = backend.vms.at(-1)!;
    expect(vm.spec.vpmem.count).toBe(0);
    expect(vm.vpmem.size).toBe(0);
    expect(vm.scsi.size).toBeGreaterThanOrEqual(2);
    await d.put('app');
    await d.cleanup();
    for (const vpmem of [{ count: 129 }, { count: -1 }, { maxSizeBytes: 1000 }]) {
      await expect(LcowDriver.open(root, { backend, serviceVm: { vpmem } })).rejects.toMatchObject({ code: 'EBADOPTION' });
    }
    await expect(LcowDriver.open(root, { backend, serviceVm: { memoryMiB: 1 } })).rejects.toMatchObject({ code: 'EBADOPTION' });
    // checked against the limits of the backend object it is given
    const narrow = new FakeBackend({ limits: { vpmemDevices: 8 } });
    await expect(LcowDriver.open(root, { backend: narrow, serviceVm: { vpmem: { count: 9 } } })).rejects.toMatchObject({
      code: 'EBADOPTION',
      context: { option: 'vpmem.count' },
    });
    await LcowDriver.open(root, { backend: narrow, serviceVm: { vpmem: { count: 8 } } });
  });

  it('safe mode: get is lazy, get/put are ref-counted, the last put stops the VM', async () => {
    const d = await open();
    await layer(d, 'base');
    await layer(d, 'app', 'base');
    const h1 = await d.get('app');
    const h2 = await d.get('app');
    expect(h2).toBe(h1);
    expect(created).toEqual([]); // nothing mounted yet
    const rootfs = await h1.rootfs();
    expect(rootfs).toMatch(/^\/run\/lcow\/r\d+\/rootfs$/);
    expect(created).toEqual(['app']);
    expect(d.status().serviceVms).toEqual(['app']);
    const vm = backend.vms[0];
    expect(vm!.state).toBe('running');
    await d.put('app');
    expect(d.status().serviceVms).toEqual(['app']);
    await d.put('app');
    expect(d.status().serviceVms).toEqual([]);
    expect(vm!.state).toBe('stopped');
    await d.put('app'); // unmatched put: no-op
    expect(d.status()).toMatchObject({ mode: 'safe', mounted: [], backend: 'fake' });
  });

  it('remove of a layer that is got is EBUSY; after put it goes, leaving nothing', async () => {
    const d = await open();
    await layer(d, 'base');
    const h = await d.get('base');
    await h.rootfs();
    await expect(d.remove('base')).rejects.toMatchObject({ code: 'EBUSY' });
    await d.put('base');
    await layer(d, 'child', 'base');
    await d.get('child'); // got, not even mounted yet: its parent is still in use
    await expect(d.remove('base')).rejects.toMatchObject({ code: 'EBUSY', context: { usedBy: 'child' } });
    await d.put('child');
    await d.remove('child');
    await d.remove('base');
    expect(await d.exists('base')).toBe(false);
    expect(readdirSync(root).sort()).toEqual(['cache']);
    await d.remove('base'); // already gone: fine
    await expect(d.get('base')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('global mode: one VM for every layer, kept after puts, stopped by cleanup', async () => {
    const d = await open(['lcow.globalmode=true']);
    await layer(d, 'a');
    await layer(d, 'b', 'a');
    for (const id of ['a', 'b']) await (await d.get(id)).rootfs();
    expect(created).toEqual(['_lcow_global_svm_']);
    await d.put('a');
    await d.put('b');
    expect(d.status().serviceVms).toEqual(['_lcow_global_svm_']);
    await (await d.get('a')).rootfs();
    await d.remove('b'); // global mode: remove does not stop the shared VM
    expect(backend.vms.filter((v) => v.state === 'running')).toHaveLength(1);
    await d.cleanup();
    expect(d.status().serviceVms).toEqual([]);
    expect(d.status().mounted).toEqual([]);
    expect(backend.vms.every((v) => v.state === 'stopped')).toBe(true);
    expect(created).toHaveLength(1);
  });

  it.each([[[]], [['lcow.globalmode=true']]])(
    'a put whose union cannot be unmounted (%j) keeps the layer got: remove and diff stay EBUSY, the next put unmounts',
    async (options) => {
      const d = await open(options);
      await d.create('rw');
      writeFileSync(path.join(root, 'rw', 'sandbox.vhdx'), Buffer.alloc(4096));
      backend.disks.define(path.join(root, 'rw', 'sandbox.vhdx'), { sizeBytes: 1 << 30 });
      const h = await d.get('rw');
      const rootfs = await h.rootfs();
      backend.vms[0]!.faults.failNext('removeCombinedLayers', 'EEXEC');
      await expect(d.put('rw')).rejects.toMatchObject({ code: 'EEXEC' });
      expect(d.status().mounted).toEqual(['rw']);
      expect(h.isMounted).toBe(true);
      await expect(d.remove('rw')).rejects.toMatchObject({ code: 'EBUSY' });
      await expect(d.changes('rw')).rejects.toMatchObject({ code: 'EBUSY' });
      expect(await h.rootfs()).toBe(rootfs); // still mounted, still usable
      expect(backend.vms[0]!.guest.mounts.has(rootfs)).toBe(true);
      await d.put('rw');
      expect(d.status()).toMatchObject({ mounted: [] });
      expect(backend.vms[0]!.guest.mounts.has(rootfs)).toBe(false);
      await d.remove('rw');
      await d.cleanup();
    },
  );

  it('a failed service-VM start fails the operation and leaves no entry; the next one works', async () => {
    const d = await open();
    await layer(d, 'base');
    backend.failNextCreate('EVMSTART');
    const h = await d.get('base');
    await expect(h.rootfs()).rejects.toMatchObject({ code: 'EVMSTART' });
    expect(d.status().serviceVms).toEqual([]);
    expect(await h.rootfs()).toMatch(/rootfs$/);
    await d.put('base');
    expect(d.status().serviceVms).toEqual([]);
  });

  it('open finishes crash leftovers and half-written templates', async () => {
    for (const leftover of ['gone-removing', 'half-applying-123-abcd', 'new-creating-9-ffff']) {
      mkdirSync(path.join(root, leftover));
      writeFileSync(path.join(root, leftover, 'layer.vhd'), 'partial');
    }
    mkdirSync(path.join(root, 'cache'), { recursive: true });
    writeFileSync(path.join(root, 'cache', '.sandbox-20gb.vhdx.tmp-1-abcd'), 'half a template');
    writeFileSync(path.join(root, 'cache', 'sandbox-20gb.vhdx'), 'a finished template');
    const d = await open();
    expect(readdirSync(root).sort()).toEqual(['cache']);
    expect(readdirSync(path.join(root, 'cache')).sort()).toEqual(['root.lock', 'root.pid', 'sandbox-20gb.vhdx']); // the lock is the opener's
    expect(await d.exists('gone')).toBe(false);
  });

  it('cleanup force-stops every safe-mode VM and unmounts what is still got', async () => {
    const d = await open();
    for (const id of ['a', 'b', 'c']) {
      await layer(d, id);
      await (await d.get(id)).rootfs();
    }
    expect(d.status().serviceVms.sort()).toEqual(['a', 'b', 'c']);
    await d.cleanup();
    expect(d.status()).toMatchObject({ serviceVms: [], mounted: [] });
    expect(backend.vms.every((v) => v.state === 'stopped')).toBe(true);
  });

  it('bad options fail open with EBADOPTION naming the option', async () => {
    await expect(open(['lcow.sandboxsize=5'])).rejects.toMatchObject({ code: 'EBADOPTION', context: { option: 'lcow.sandboxsize', value: '5' } });
    await expect(open(['lcow.kirdpath=/nonexistent-kird'])).rejects.toMatchObject({ code: 'EBADOPTION', context: { option: 'lcow.kirdpath' } });
    await expect(open(['lcow.kernel=vmlinuz'])).rejects.toMatchObject({ code: 'EBADOPTION', context: { option: 'lcow.kernel' } });
    expect(existsSync(path.join(root, 'cache'))).toBe(false);
  });

  it('a sandbox whose parent is itself a sandbox is EUNSUPPORTED at mount, not a wrong rootfs', async () => {
    const d = await open();
    await d.create('rw');
    writeFileSync(path.join(root, 'rw', 'sandbox.vhdx'), Buffer.alloc(4096));
    await d.create('child', 'rw');
    writeFileSync(path.join(root, 'child', 'sandbox.vhdx'), Buffer.alloc(4096));
    const h = await d.get('child');
    await expect(h.rootfs()).rejects.toMatchObject({ code: 'EUNSUPPORTED' });
    await d.put('child');
  });

  it.each([[[]], [['lcow.globalmode=true']]])(
    'a service VM that dies under a got layer (%j): the op fails EVMSTOPPED, the next one remounts in a fresh VM',
    async (options) => {
      const d = await open(options);
      await layer(d, 'base');
      const h = await d.get('base');
      const first = await h.rootfs();
      backend.vms[0]!.kill();
      await expect(h.run(['true'])).rejects.toMatchObject({ code: 'EVMSTOPPED' });
      expect(await h.rootfs()).not.toBe(undefined);
      expect(first).toMatch(/rootfs$/);
      expect(backend.vms).toHaveLength(2);
      expect(backend.vms[1]!.state).toBe('running');
      await d.put('base');
      await d.cleanup();
      expect(backend.vms.every((v) => v.state === 'stopped')).toBe(true);
      expect(d.status().serviceVms).toEqual([]);
    },
  );
});
