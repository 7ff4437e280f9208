import { describe, expect, it } from 'vitest';
import { LcowError } from '../../src/errors.js';
import { vpmemFallbackReason } from '../../src/uvm/index.js';
import { fakeUvm, errorCode as code } from './fake-uvm.js';

const MiB = 1024 * 1024;

describe('VPMEM manager and layer placement', () => {
  it('takes the lowest device, ref-counts by host path, mounts at short paths; a file goes back to its old device', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 4, maxSizeBytes: 8 * MiB } });
    for (const p of ['/a', '/b', '/c']) backend.disks.define(p);
    const a = await uvm.vpmem.add('/a');
    const b = await uvm.vpmem.add('/b');
    const a2 = await uvm.vpmem.add('/a');
    expect([a.slot, b.slot, a2.slot]).toEqual([0, 1, 0]);
    expect(a.guestPath).toBe(a2.guestPath);
    expect(a.guestPath).toMatch(/^\/run\/m\/\d+$/);
    expect(vm.callsOf('addVpmemDevice')).toHaveLength(2);
    await a.release();
    expect(vm.vpmem.has(0)).toBe(true);
    await a2.release();
    expect(vm.calls.filter((c) => c.op === 'unmount' || c.op === 'removeVpmemDevice').map((c) => c.op)).toEqual(['unmount', 'removeVpmemDevice']);
    const c = await uvm.vpmem.add('/c');
    expect(c.slot).toBe(2); // a never-used device before /a's old one (a backend that cannot unplug keeps /a mapped there)
    const a3 = await uvm.vpmem.add('/a');
    expect(a3.slot).toBe(0); // /a's old device
    expect(await code(a.release())).toBe('EALREADYRELEASED');
  });

  it('a layer goes to VPMEM first and falls back to read-only SCSI when no device is free', async () => {
    const { uvm, backend } = await fakeUvm({ vpmem: { count: 1 } });
    backend.disks.define('/l1', { files: { one: '1' } });
    backend.disks.define('/l2', { files: { two: '2' } });
    const first = await uvm.addLayer('/l1');
    const second = await uvm.addLayer('/l2');
    expect([first.placement, first.fallbackReason]).toEqual(['vpmem', undefined]);
    expect([second.placement, second.fallbackReason]).toEqual(['scsi', 'vpmem-full']);
    expect(uvm.scsi.inUse()).toMatchObject([{ hostPath: '/l2', readOnly: true }]);
    await second.release();
    await first.release();
    expect(uvm.scsi.inUse()).toEqual([]);
    expect(uvm.vpmem.inUse()).toEqual([]);
  });

  it('falls back when the layer is larger than the device maximum, or the backend finds it unsuitable, or VPMEM is off', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 8, maxSizeBytes: 4 * MiB } });
    backend.disks.define('/big', { sizeBytes: 4 * MiB + 1 });
    backend.disks.define('/exact', { sizeBytes: 4 * MiB });
    backend.disks.define('/odd', { pmemUnsuitable: true });
    expect((await uvm.addLayer('/big')).fallbackReason).toBe('vpmem-too-large');
    expect((await uvm.addLayer('/exact')).placement).toBe('vpmem');
    expect((await uvm.addLayer('/odd')).fallbackReason).toBe('vpmem-unsuitable');
    expect(vm.vpmem.size).toBe(1); // the refused ones left no device behind
    const off = await fakeUvm({ vpmem: { count: 0 } });
    off.backend.disks.define('/x');
    expect((await off.uvm.addLayer('/x')).fallbackReason).toBe('vpmem-disabled');
  });

  it('other errors are fatal: no SCSI attempt', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    expect(await code(uvm.addLayer('/missing/layer.vhd'))).toBe('ENOTFOUND');
    backend.disks.define('/l');
    vm.faults.failNext('mountVpmem', 'EGUEST');
    expect(await code(uvm.addLayer('/l'))).toBe('EGUEST');
    vm.faults.failNext('addVpmemDevice', 'EQMP');
    expect(await code(uvm.addLayer('/l'))).toBe('EQMP');
    expect(vm.callsOf('addScsiDisk')).toHaveLength(0);
    // the failed mount rolled its device back
    expect(vm.callsOf('removeVpmemDevice')).toEqual([[0]]);
    expect(uvm.vpmem.inUse()).toEqual([]);
    expect(vm.violations).toEqual([]);
  });

  it('a failed rollback is adopted and retried before the next add', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 1 } });
    backend.disks.define('/l');
    vm.faults.failNext('mountVpmem');
    vm.faults.failNext('removeVpmemDevice');
    expect(await code(uvm.vpmem.add('/l'))).toBe('EGUEST');
    expect(uvm.vpmem.inUse()).toEqual([0]);
    expect(uvm.orphans.size).toBe(1);
    const again = await uvm.vpmem.add('/l'); // retries the orphan first, so device 0 is free again
    expect(again.slot).toBe(0);
    expect(uvm.orphans.size).toBe(0);
  });

  it('a backend refusal of the file (EUNSUPPORTED, EVPMEMUNSUITABLE, ETOOBIG) falls back; other backend errors do not', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    backend.disks.define('/l');
    for (const refusal of ['EUNSUPPORTED', 'EVPMEMUNSUITABLE', 'ETOOBIG'] as const) {
      vm.faults.failNext('addVpmemDevice', refusal);
      const l = await uvm.addLayer('/l');
      expect([l.placement, l.fallbackReason]).toEqual(['scsi', refusal === 'ETOOBIG' ? 'vpmem-too-large' : 'vpmem-unsuitable']);
      await l.release();
    }
    vm.faults.failNext('addVpmemDevice', 'EIO');
    expect(await code(uvm.addLayer('/l'))).toBe('EIO');
    expect(uvm.vpmem.inUse()).toEqual([]);
  });

  it('a slot the backend retires (QEMU cannot unplug virtio-pmem) goes back only to the file it maps; others see VPMEM full', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 2 } });
    vm.retireVpmemSlots = true;
    for (const p of ['/a', '/b', '/c']) backend.disks.define(p);
    await (await uvm.vpmem.add('/a')).release(); // slot 0 retired, still mapping /a
    const b = await uvm.addLayer('/b');
    expect([b.placement, uvm.vpmem.inUse()]).toEqual(['vpmem', [1]]); // the never-used slot, not /a's
    await b.release(); // slot 1 retired, still mapping /b
    const c = await uvm.addLayer('/c');
    expect([c.placement, c.fallbackReason]).toEqual(['scsi', 'vpmem-full']);
    expect(uvm.vpmem.retired()).toEqual([0, 1]);
    // ... but /a and /b get their devices back, even after /c was refused both
    const a = await uvm.addLayer('/a');
    expect([a.placement, uvm.vpmem.inUse()]).toEqual(['vpmem', [0]]);
    const b2 = await uvm.addLayer('/b');
    expect([b2.placement, uvm.vpmem.inUse()]).toEqual(['vpmem', [0, 1]]);
    expect(uvm.vpmem.retired()).toEqual([]);
    await Promise.all([a.release(), b2.release(), c.release()]);
    expect(vm.violations).toEqual([]);
  });

  it('classifies fallback reasons from typed VPMEM refusals only', () => {
    expect(vpmemFallbackReason(new Error('ENOSLOT'))).toBeUndefined();
    expect(vpmemFallbackReason(new LcowError('ENOSLOT', 'scsi full', { kind: 'scsi' }))).toBeUndefined();
    expect(vpmemFallbackReason(new LcowError('EUNSUPPORTED', 'x', {}))).toBeUndefined();
  });
});
