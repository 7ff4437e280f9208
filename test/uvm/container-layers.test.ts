import { describe, expect, it } from 'vitest';
import { FakeBackend, type FakeVm } from '../../src/backend/fake/index.js';
import { isLcowError } from '../../src/errors.js';
import {
  mountContainerLayers,
  overlayMountData,
  OVERLAY_MOUNT_DATA_MAX,
  scratchDirs,
  unmountContainerLayers,
  validateCombineRequest,
} from '../../src/uvm/index.js';
import { fakeUvm, errorCode as code } from './fake-uvm.js';

/** Three layers, top-most first: top shadows a file and whites one out. */
function defineImage(backend: FakeBackend): string[] {
  backend.disks.define('/img/base/layer.vhd', { files: { 'etc/os': 'base\n', 'etc/motd': 'base motd\n', 'bin/sh': 'ELF', 'gone/file': 'x' } });
  backend.disks.define('/img/mid/layer.vhd', { files: { 'etc/motd': 'mid motd\n', gone: { whiteout: true } } });
  backend.disks.define('/img/top/layer.vhd', { files: { 'etc/motd': 'top motd\n', 'app/run': 'go' } });
  backend.disks.define('/c1/sandbox.vhdx', { sizeBytes: 20 * 1024 ** 3 });
  return ['/img/top/layer.vhd', '/img/mid/layer.vhd', '/img/base/layer.vhd'];
}

async function sh(vm: FakeVm, ...argv: string[]) {
  const r = await vm.exec(argv);
  return { code: r.exitCode, out: r.stdout.toString() };
}

describe('union mount data', () => {
  it('joins lower dirs top-most first with ":" and adds upper/work only with a scratch', () => {
    expect(overlayMountData({ lowerDirs: ['/run/m/2', '/run/m/1'] })).toBe('lowerdir=/run/m/2:/run/m/1');
    expect(overlayMountData({ lowerDirs: ['/a'], upperDir: '/s/upper', workDir: '/s/work' })).toBe('lowerdir=/a,upperdir=/s/upper,workdir=/s/work');
  });

  it('127 layers fit the 4095-byte page with generated paths, even after a million mounts and a 64-char container id', () => {
    const id = 'f'.repeat(64);
    // worst case for this VM's counter: every path has 7 digits
    const lowerDirs = Array.from({ length: 127 }, (_, i) => `/run/m/${1_000_000 + i}`);
    const req = { lowerDirs, ...scratchDirs('/run/m/1000127', id), target: `/run/c/${id}/rootfs` };
    const bytes = Buffer.byteLength(overlayMountData(req));
    expect(bytes).toBe(9 + 127 * 14 + 126 + `,upperdir=/run/m/1000127/scratch/${id}/upper,workdir=/run/m/1000127/scratch/${id}/work`.length);
    expect(bytes).toBeLessThanOrEqual(OVERLAY_MOUNT_DATA_MAX);
    expect(() => validateCombineRequest(req, 'vm')).not.toThrow();
    // what host-derived mount points (moby: /tmp/<64-hex layer id>) would have cost: over the page
    const hostDerived = { lowerDirs: Array.from({ length: 127 }, (_, i) => `/tmp/${i.toString(16).padStart(64, '0')}`), target: '/x' };
    expect(Buffer.byteLength(overlayMountData(hostDerived))).toBeGreaterThan(OVERLAY_MOUNT_DATA_MAX);
    const err = (() => {
      try {
        validateCombineRequest(hostDerived, 'vm');
      } catch (e) {
        return e;
      }
    })();
    expect(isLcowError(err, 'ETOOBIG') && err.context).toMatchObject({ layers: 127, maxBytes: 4095 });
  });

  it('rejects paths that would corrupt the mount data', () => {
    for (const bad of ['/a:b', '/a,b', 'relative', '/a\\b']) {
      expect(() => validateCombineRequest({ lowerDirs: [bad], target: '/t' }, 'vm')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
  });
});

describe('mountContainerLayers (fake backend)', () => {
  it('baseDirs go under every layer: the union shows them, writes beside them land in the scratch', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const layers = defineImage(backend);
    await expect(mountContainerLayers(uvm, layers, undefined, '/run/c/x', { baseDirs: ['relative'] })).rejects.toMatchObject({ code: 'EINVAL' });
    expect((await sh(vm, 'mkdir', '-p', '/run/base/proc', '/run/base/dev')).code).toBe(0);
    const c = await mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/c1', { baseDirs: ['/run/base'] });
    expect(c.union.request.lowerDirs).toEqual([...c.layers.map((l) => l.guestPath), '/run/base']);
    expect((await sh(vm, 'ls', c.rootfs)).out).toBe('app\nbin\ndev\netc\nproc\n');
    await unmountContainerLayers(c);
    expect(backend.disks.get('/c1/sandbox.vhdx').tree.get('upper/proc')).toBeUndefined();
    // one layer and a base dir make a valid read-only union (two lower dirs)
    const ro = await mountContainerLayers(uvm, [layers[2]!], undefined, '/run/c/ro', { baseDirs: ['/run/base'] });
    expect((await sh(vm, 'cat', `${ro.rootfs}/etc/os`)).out).toBe('base\n');
    await unmountContainerLayers(ro);
  });

  it('gives a rootfs with union semantics: bottom file, shadowed file, whiteout; writes land in the scratch upper', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const layers = defineImage(backend);
    const c = await mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/c1');
    expect(c.rootfs).toBe('/run/c/c1/rootfs');
    expect(c.scratch!.guestPath).toBe('/run/c/c1'); // hcsshim's layout: the scratch is the rootfs's parent
    expect(c.layers.map((l) => l.placement)).toEqual(['vpmem', 'vpmem', 'vpmem']);
    expect(c.union.request.lowerDirs).toEqual(c.layers.map((l) => l.guestPath));
    expect(c.union.request.upperDir).toBe(`${c.scratch!.guestPath}/upper`);
    expect(await sh(vm, 'cat', `${c.rootfs}/etc/os`)).toEqual({ code: 0, out: 'base\n' });
    expect(await sh(vm, 'cat', `${c.rootfs}/etc/motd`)).toEqual({ code: 0, out: 'top motd\n' });
    expect((await sh(vm, 'ls', c.rootfs)).out).toBe('app\nbin\netc\n'); // 'gone' whited out by mid
    expect((await sh(vm, 'test', '-e', `${c.rootfs}/gone/file`)).code).toBe(1);
    expect((await vm.exec(['tee', `${c.rootfs}/etc/new`], { stdin: 'written' })).exitCode).toBe(0);
    await unmountContainerLayers(c);
    // the write is on the scratch disk, under upper/, and the layers are untouched
    expect(backend.disks.get('/c1/sandbox.vhdx').tree.get('upper/etc/new')).toEqual({ kind: 'file', data: Buffer.from('written') });
    expect(backend.disks.get('/img/top/layer.vhd').tree.get('etc/new')).toBeUndefined();
    expect([...vm.guest.mounts.keys()]).toEqual([]);
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
    expect(vm.violations).toEqual([]);
  });

  it("a read-write layer below (moby's -init) joins as a lower dir: its upper directory, read-only, whiteouts and opaque dirs kept", async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const layers = defineImage(backend);
    backend.disks.define('/c1-init/sandbox.vhdx', {
      files: {
        'upper/.dockerenv': '',
        'upper/etc/hosts': '127.0.0.1 localhost\n',
        'upper/etc/os': { whiteout: true },
        'upper/app': { dir: true, opaque: true },
        'upper/app/init': 'init',
        'work/work': { dir: true },
      },
    });
    const init = { scratchPath: '/c1-init/sandbox.vhdx' };
    await expect(mountContainerLayers(uvm, [{ scratchPath: '' }], undefined, '/run/c/bad')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(mountContainerLayers(uvm, [{ scratchPath: '/x', containerId: '../x' }], undefined, '/run/c/bad')).rejects.toMatchObject({ code: 'EINVAL' });
    const c = await mountContainerLayers(uvm, [init, ...layers], '/c1/sandbox.vhdx', '/run/c/c1');
    const initDisk = [...vm.scsi.values()].find((d) => d.disk.hostPath === '/c1-init/sandbox.vhdx');
    expect(initDisk?.readOnly).toBe(true);
    expect(c.layers[0]).toMatchObject({ hostPath: init.scratchPath, placement: 'scsi', fallbackReason: undefined });
    expect(c.layers[0]!.guestPath).toMatch(/^\/run\/m\/\d+\/upper$/);
    expect(c.union.request.lowerDirs[0]).toBe(c.layers[0]!.guestPath);
    expect(await sh(vm, 'cat', `${c.rootfs}/etc/hosts`)).toEqual({ code: 0, out: '127.0.0.1 localhost\n' });
    expect(await sh(vm, 'cat', `${c.rootfs}/etc/motd`)).toEqual({ code: 0, out: 'top motd\n' });
    expect((await sh(vm, 'test', '-e', `${c.rootfs}/etc/os`)).code).toBe(1); // whited out by the init layer
    expect((await sh(vm, 'ls', `${c.rootfs}/app`)).out).toBe('init\n'); // opaque: top's app/run hidden
    expect((await vm.exec(['tee', `${c.rootfs}/etc/hosts`], { stdin: 'mine' })).exitCode).toBe(0);
    await c.release();
    // The write went to the container's scratch; the init layer is as it was.
    expect(backend.disks.get('/c1/sandbox.vhdx').tree.get('upper/etc/hosts')).toEqual({ kind: 'file', data: Buffer.from('mine') });
    expect(backend.disks.get('/c1-init/sandbox.vhdx').tree.get('upper/etc/hosts')).toEqual({ kind: 'file', data: Buffer.from('127.0.0.1 localhost\n') });
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
    expect(vm.violations).toEqual([]);
  });

  it('with a mapped-VPMEM backend the layers share one device, each mounted from its range', async () => {
    const backend = new FakeBackend({ capabilities: { vpmemMapped: true } });
    const { uvm, vm } = await fakeUvm({}, backend);
    const c = await mountContainerLayers(uvm, defineImage(backend), '/c1/sandbox.vhdx', '/run/c/c1');
    expect(c.layers.map((l) => l.placement)).toEqual(['vpmem', 'vpmem', 'vpmem']);
    expect(new Set(vm.callsOf('addVpmemMapping').map(([slot]) => slot))).toEqual(new Set([0]));
    expect(await sh(vm, 'cat', `${c.rootfs}/etc/motd`)).toEqual({ code: 0, out: 'top motd\n' });
    await c.release();
    expect(vm.vpmemMappings.size).toBe(0);
    expect(vm.violations).toEqual([]);
  });

  it('without a scratch the union is read-only', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const c = await mountContainerLayers(uvm, defineImage(backend), undefined, '/run/c/ro');
    expect(c.scratch).toBeUndefined();
    expect(c.union.request.upperDir).toBeUndefined();
    expect((await vm.exec(['tee', `${c.rootfs}/x`], { stdin: 'no' })).exitCode).toBe(1);
    await c.release();
  });

  it('per-container upper/work under <scratch>/scratch/<id>/ when a containerId is given', async () => {
    const { uvm, backend } = await fakeUvm();
    const c = await mountContainerLayers(uvm, defineImage(backend), '/c1/sandbox.vhdx', '/run/c/c1', { containerId: 'c1' });
    expect(c.union.request).toMatchObject({ upperDir: `${c.scratch!.guestPath}/scratch/c1/upper`, workDir: `${c.scratch!.guestPath}/scratch/c1/work` });
    await c.release();
    expect(backend.disks.get('/c1/sandbox.vhdx').tree.get('scratch/c1/upper')).toEqual({ kind: 'dir' });
  });

  it('tears down union, then scratch, then layers', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 1 } });
    const c = await mountContainerLayers(uvm, defineImage(backend), '/c1/sandbox.vhdx', '/run/c/c1', { concurrency: 1, releaseConcurrency: 1 });
    const from = vm.calls.length;
    await c.release();
    const ops = vm.calls.slice(from).map((x) => `${x.op}${x.op === 'unmount' || x.op === 'removeCombinedLayers' ? ` ${x.args[0]}` : ''}`);
    const [top, mid, base] = c.layers.map((l) => l.guestPath);
    expect(ops).toEqual([
      'removeCombinedLayers /run/c/c1/rootfs',
      `unmount ${c.scratch!.guestPath}`,
      'unplugScsi',
      'removeScsiDisk',
      `unmount ${top}`, // the VPMEM one (count 1)
      'removeVpmemDevice',
      `unmount ${mid}`,
      'unplugScsi',
      'removeScsiDisk',
      `unmount ${base}`,
      'unplugScsi',
      'removeScsiDisk',
    ]);
  });

  it('releases every layer at once by default (the backend batches what is pending together); releaseConcurrency bounds it', async () => {
    for (const [options, most] of [
      [{}, 21],
      [{ releaseConcurrency: 3 }, 3],
    ] as const) {
      const { uvm, vm, backend } = await fakeUvm();
      const layers = Array.from({ length: 20 }, (_, i) => {
        backend.disks.define(`/img/l${i}/layer.vhd`, { files: { [`f${i}`]: String(i) } });
        return `/img/l${i}/layer.vhd`;
      });
      backend.disks.define('/c1/sandbox.vhdx', { sizeBytes: 1024 ** 3 });
      const c = await mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/c1', options);
      // count the layer unmounts in flight at once: each waits a little in the "guest"
      let inFlight = 0;
      let seen = 0;
      const unmount = vm.unmount.bind(vm);
      vm.unmount = async (p: string) => {
        seen = Math.max(seen, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return unmount(p);
      };
      await c.release();
      expect(seen).toBe(most); // 20 layers and the scratch
    }
  });

  it('tries every step, returns the first error, and a retry finishes the job', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const c = await mountContainerLayers(uvm, defineImage(backend), '/c1/sandbox.vhdx', '/run/c/c1');
    vm.faults.failNext('removeCombinedLayers', 'EGUEST');
    const from = vm.calls.length;
    const err = await c.release().catch((e: unknown) => e);
    expect(isLcowError(err, 'EGUEST') && err.context.op).toBe('removeCombinedLayers');
    // every later step was still tried (and failed EBUSY: the overlay still uses them)
    expect(vm.calls.slice(from).filter((x) => x.op === 'unmount')).toHaveLength(4);
    expect(c.released).toBe(false);
    await c.release();
    expect(c.released).toBe(true);
    expect([...vm.guest.mounts.keys()]).toEqual([]);
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
    expect(await code(c.release())).toBe('EALREADYRELEASED');
  });

  it('releases the scratch and the layers concurrently, once the union is gone', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const c = await mountContainerLayers(uvm, defineImage(backend), '/c1/sandbox.vhdx', '/run/c/c1');
    const paths = [c.scratch!.guestPath!, ...c.layers.map((l) => l.guestPath)];
    const gates = paths.map((p) => vm.faults.hold('unmount', (args) => args[0] === p));
    const done = c.release();
    // All four unmounts are in the guest at the same moment: a one-by-one release would hold at the first.
    const seen = await Promise.race([
      Promise.all(gates.map((g) => g.reached)).then(() => 'all in flight'),
      new Promise((r) => setTimeout(() => r('one at a time'), 2000)),
    ]);
    expect(seen).toBe('all in flight');
    expect(c.union.released).toBe(true);
    for (const g of gates) g.open();
    await done;
    expect(c.released).toBe(true);
    expect([...vm.guest.mounts.keys()]).toEqual([]);
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
  });

  it('a failure in one layer does not stop the others; the retry releases only that layer', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const c = await mountContainerLayers(uvm, defineImage(backend), '/c1/sandbox.vhdx', '/run/c/c1');
    const mid = c.layers[1]!.guestPath;
    vm.faults.failNext('unmount', 'EIO', { when: (args) => args[0] === mid });
    expect(await code(c.release())).toBe('EIO');
    expect(c.layers.map((l) => l.released)).toEqual([true, false, true]);
    expect(c.union.released && c.scratch!.released).toBe(true);
    const from = vm.calls.length;
    await c.release();
    expect(vm.calls.slice(from).map((x) => x.op)).toEqual(['unmount', 'removeVpmemDevice']);
  });

  it('rolls everything back when the union fails, and when a layer fails', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const layers = defineImage(backend);
    vm.faults.failNext('combineLayers', 'EGUEST');
    expect(await code(mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/c1'))).toBe('EGUEST');
    expect([...vm.guest.mounts.keys()]).toEqual([]);
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
    expect(await code(mountContainerLayers(uvm, [...layers, '/missing.vhd'], '/c1/sandbox.vhdx', '/run/c/c1'))).toBe('ENOTFOUND');
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
    expect(vm.violations).toEqual([]);
  });

  it('rolls back the layers when the scratch fails to attach', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    vm.faults.failNext('addScsiDisk', 'EQMP', { when: (a) => (a[2] as { hostPath: string }).hostPath === '/c1/sandbox.vhdx' });
    expect(await code(mountContainerLayers(uvm, defineImage(backend), '/c1/sandbox.vhdx', '/run/c/c1'))).toBe('EQMP');
    expect(vm.callsOf('removeVpmemDevice')).toHaveLength(3);
    expect([...vm.guest.mounts.keys()]).toEqual([]);
    expect(uvm.mountPointsInUse()).toEqual([]);
  });

  it('two containers mounting the same target at once share one union', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const layers = defineImage(backend);
    const [a, b] = await Promise.all([
      mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/c1'),
      mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/c1'),
    ]);
    expect(vm.callsOf('combineLayers')).toHaveLength(1);
    expect(vm.callsOf('addVpmemDevice')).toHaveLength(3);
    await Promise.all([a.release(), b.release()]);
    expect([...vm.guest.mounts.keys()]).toEqual([]);
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
  });

  it('shares a union by target; a different union at the same target is EMOUNTCONFLICT', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const layers = defineImage(backend);
    const a = await mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/c1');
    const b = await mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/c1');
    expect(vm.callsOf('combineLayers')).toHaveLength(1);
    expect(await code(mountContainerLayers(uvm, layers.slice(1), '/c1/sandbox.vhdx', '/run/c/c1'))).toBe('EMOUNTCONFLICT');
    await a.release();
    expect(vm.callsOf('removeCombinedLayers')).toHaveLength(0);
    await b.release();
    expect([...vm.guest.mounts.keys()]).toEqual([]);
  });

  it('127 layers (VPMEM full at 64, the rest on SCSI) in one union', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const layers = Array.from({ length: 127 }, (_, i) => {
      const p = `/img/${i}/layer.vhd`;
      backend.disks.define(p, { files: { [`f${i}`]: String(i), shared: `layer ${i}` } });
      return p;
    });
    const c = await mountContainerLayers(uvm, layers, '/c1/sandbox.vhdx', '/run/c/many');
    expect(c.layers.filter((l) => l.placement === 'vpmem')).toHaveLength(64);
    expect(c.layers.filter((l) => l.fallbackReason === 'vpmem-full')).toHaveLength(63);
    expect(await sh(vm, 'cat', `${c.rootfs}/shared`)).toEqual({ code: 0, out: 'layer 0' });
    expect(await sh(vm, 'cat', `${c.rootfs}/f126`)).toEqual({ code: 0, out: '126' });
    await c.release();
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
  });

  it('the same layer twice shares one mount and appears once in the union (overlayfs refuses a repeated lower dir)', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    const [top, mid, base] = defineImage(backend);
    const c = await mountContainerLayers(uvm, [top!, mid!, top!, base!], '/c1/sandbox.vhdx', '/run/c/dup');
    expect(c.layers).toHaveLength(4);
    expect(c.union.request.lowerDirs).toEqual([c.layers[0]!.guestPath, c.layers[1]!.guestPath, c.layers[3]!.guestPath]);
    await c.release();
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
  });

  it('validates its arguments', async () => {
    const { uvm } = await fakeUvm();
    expect(await code(mountContainerLayers(uvm, [], undefined, '/r'))).toBe('EINVAL');
    expect(await code(mountContainerLayers(uvm, ['/a'], undefined, 'relative'))).toBe('EINVAL');
    expect(await code(mountContainerLayers(uvm, ['/a'], '/s', '/r', { containerId: '../x' }))).toBe('EINVAL');
    // the kernel wants two lower dirs for an overlay without upper; say so before touching the VM
    expect(await code(mountContainerLayers(uvm, ['/a'], undefined, '/r'))).toBe('EINVAL');
    expect(await code(mountContainerLayers(uvm, [], undefined, '/r', { baseDirs: ['/run/base'] }))).toBe('EINVAL');
    expect(uvm.vpmem.inUse()).toEqual([]);
  });

  it('a scratch with no layers below it: the base dirs are its only lower (no device but the scratch)', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    backend.disks.define('/c1/sandbox.vhdx', { sizeBytes: 1024 ** 3 });
    expect((await sh(vm, 'mkdir', '-p', '/run/base/proc')).code).toBe(0);
    const c = await mountContainerLayers(uvm, [], '/c1/sandbox.vhdx', '/run/c/c1', { baseDirs: ['/run/base'] });
    expect(c.layers).toEqual([]);
    expect(c.union.request.lowerDirs).toEqual(['/run/base']);
    expect(vm.scsi.size).toBe(1);
    expect((await sh(vm, 'ls', c.rootfs)).out).toBe('proc\n');
    await c.release();
    expect(vm.vpmem.size + vm.scsi.size).toBe(0);
  });
});
