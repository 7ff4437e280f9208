import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import type { VpmemAddOutcome, VpmemDevice } from '../../src/uvm/index.js';
import { fakeUvm, errorCode as code } from './fake-uvm.js';

const MiB = 1024 * 1024;

/** The device tryAdd gave, or a failed expectation naming the fallback. */
function device(outcome: VpmemAddOutcome): VpmemDevice {
  if ('fallback' in outcome) throw new Error(`expected a device, got fallback ${outcome.fallback}: ${outcome.detail}`);
  return outcome.device;
}

/** A backend that cannot unplug VPMEM, as QEMU 7.2. */
const qemuLike = () => new FakeBackend({ capabilities: { vpmemUnplug: 'same-file-only' } });

describe('VPMEM manager: slots', () => {
  it('takes the lowest free device, ref-counts by host path, mounts at short paths', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 4, maxSizeBytes: 8 * MiB } });
    for (const p of ['/a', '/b']) backend.disks.define(p);
    const a = device(await uvm.vpmem.tryAdd('/a'));
    const b = device(await uvm.vpmem.tryAdd('/b'));
    const a2 = device(await uvm.vpmem.tryAdd('/a'));
    expect([a.slot, b.slot, a2.slot]).toEqual([0, 1, 0]);
    expect(a.guestPath).toBe(a2.guestPath);
    expect(a.guestPath).toMatch(/^\/run\/m\/\d+$/);
    expect(vm.callsOf('addVpmemDevice')).toHaveLength(2);
    await a.release();
    expect(vm.vpmem.has(0)).toBe(true);
    await a2.release();
    expect(vm.calls.filter((c) => c.op === 'unmount' || c.op === 'removeVpmemDevice').map((c) => c.op)).toEqual(['unmount', 'removeVpmemDevice']);
    expect(await code(a.release())).toBe('EALREADYRELEASED');
  });

  it("with 'full' unplug a released slot is free again, for any file", async () => {
    const { uvm, backend } = await fakeUvm({ vpmem: { count: 2 } });
    for (const p of ['/a', '/b']) backend.disks.define(p);
    await device(await uvm.vpmem.tryAdd('/a')).release();
    expect([uvm.vpmem.inUse(), uvm.vpmem.retired()]).toEqual([[], []]);
    const b = device(await uvm.vpmem.tryAdd('/b'));
    expect(b.slot).toBe(0);
  });

  it("with 'same-file-only' unplug: free → used → retired holding its file → that file gets it back; another file goes to a free slot", async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 2 } }, qemuLike());
    for (const p of ['/a', '/b', '/c']) backend.disks.define(p);
    const a = device(await uvm.vpmem.tryAdd('/a'));
    expect([a.slot, uvm.vpmem.inUse()]).toEqual([0, [0]]);
    await a.release();
    expect([uvm.vpmem.inUse(), uvm.vpmem.retired()]).toEqual([[], [0]]);
    const b = device(await uvm.vpmem.tryAdd('/b'));
    expect(b.slot).toBe(1); // not /a's slot: the backend still maps /a there
    const a2 = device(await uvm.vpmem.tryAdd('/a'));
    expect(a2.slot).toBe(0); // /a's device comes back
    expect([uvm.vpmem.inUse(), uvm.vpmem.retired()]).toEqual([[0, 1], []]);
    await Promise.all([a2.release(), b.release()]);
    // both retired now: a third file has nowhere to go, without asking the backend
    const calls = vm.callsOf('addVpmemDevice').length;
    expect(await uvm.vpmem.tryAdd('/c')).toMatchObject({ fallback: 'vpmem-full' });
    expect(vm.callsOf('addVpmemDevice')).toHaveLength(calls);
    expect(device(await uvm.vpmem.tryAdd('/b')).slot).toBe(1);
    expect(vm.violations).toEqual([]);
  });

  it('a slot the backend says another file holds becomes unusable and the next one is tried (a file replaced on disk)', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 2 } }, qemuLike());
    backend.disks.define('/a');
    await device(await uvm.vpmem.tryAdd('/a')).release(); // slot 0 retired, holding /a
    backend.disks.define('/a'); // a new file at the same path
    const a = device(await uvm.vpmem.tryAdd('/a'));
    expect(a.slot).toBe(1);
    expect(vm.callsOf('addVpmemDevice').map((c) => c[0])).toEqual([0, 0, 1]);
    expect(uvm.vpmem.retired()).toEqual([0]);
    await a.release();
    backend.disks.define('/a');
    expect(await uvm.vpmem.tryAdd('/a')).toMatchObject({ fallback: 'vpmem-full' });
  });

  it('a failed add leaves the slot as it was: free, or retired holding its file', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 1 } }, qemuLike());
    backend.disks.define('/a');
    vm.faults.failNext('addVpmemDevice', 'EQMP');
    expect(await code(uvm.vpmem.tryAdd('/a'))).toBe('EQMP');
    expect([uvm.vpmem.inUse(), uvm.vpmem.retired()]).toEqual([[], []]);
    await device(await uvm.vpmem.tryAdd('/a')).release();
    vm.faults.failNext('addVpmemDevice', 'EQMP');
    expect(await code(uvm.vpmem.tryAdd('/a'))).toBe('EQMP');
    expect(uvm.vpmem.retired()).toEqual([0]);
    expect(device(await uvm.vpmem.tryAdd('/a')).slot).toBe(0);
  });

  it('a failed rollback is adopted and retried before the next add', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 1 } });
    backend.disks.define('/l');
    vm.faults.failNext('mountVpmem');
    vm.faults.failNext('removeVpmemDevice');
    expect(await code(uvm.vpmem.tryAdd('/l'))).toBe('EGUEST');
    expect(uvm.vpmem.inUse()).toEqual([0]);
    expect(uvm.orphans.size).toBe(1);
    const again = device(await uvm.vpmem.tryAdd('/l')); // retries the orphan first, so device 0 is free again
    expect(again.slot).toBe(0);
    expect(uvm.orphans.size).toBe(0);
  });

  it('concurrent requests for one file share the answer, refusal included', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 2 } });
    backend.disks.define('/odd', { pmemUnsuitable: true });
    const gate = vm.faults.hold('addVpmemDevice');
    const both = Promise.all([uvm.vpmem.tryAdd('/odd'), uvm.vpmem.tryAdd('/odd')]);
    await gate.reached;
    gate.open();
    expect((await both).map((o) => 'fallback' in o && o.fallback)).toEqual(['vpmem-unsuitable', 'vpmem-unsuitable']);
    expect(vm.callsOf('addVpmemDevice')).toHaveLength(1);
  });
});

describe('layer placement: VPMEM first, SCSI for each typed fallback reason', () => {
  it('vpmem-full: no device is free', async () => {
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

  it('vpmem-disabled: count 0', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 0 } });
    backend.disks.define('/x');
    expect((await uvm.addLayer('/x')).fallbackReason).toBe('vpmem-disabled');
    expect(vm.callsOf('addVpmemDevice')).toHaveLength(0);
  });

  it('vpmem-too-large: over the device maximum, by uvm’s own size check or by the backend’s answer', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 8, maxSizeBytes: 4 * MiB } });
    backend.disks.define('/big', { sizeBytes: 4 * MiB + 1 });
    backend.disks.define('/exact', { sizeBytes: 4 * MiB });
    expect((await uvm.addLayer('/big')).fallbackReason).toBe('vpmem-too-large');
    expect(vm.callsOf('addVpmemDevice')).toHaveLength(0);
    expect((await uvm.addLayer('/exact')).placement).toBe('vpmem');
    // the backend measures what it maps (e.g. a VHD without its footer), not uvm: its 'too-large' answer falls back the same way
    const other = new FakeBackend();
    const small = await fakeUvm({ vpmem: { count: 1, maxSizeBytes: 4 * MiB }, hostFiles: { size: async () => MiB } }, other);
    other.disks.define('/l', { sizeBytes: 8 * MiB });
    const l = await small.uvm.addLayer('/l');
    expect([l.placement, l.fallbackReason]).toEqual(['scsi', 'vpmem-too-large']);
    expect(small.vm.callsOf('addVpmemDevice')).toHaveLength(1);
  });

  it('vpmem-unsuitable: the backend cannot map the file', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 8 } });
    backend.disks.define('/odd', { pmemUnsuitable: true });
    const l = await uvm.addLayer('/odd');
    expect([l.placement, l.fallbackReason]).toEqual(['scsi', 'vpmem-unsuitable']);
    expect(vm.vpmem.size).toBe(0); // the refusal left no device behind
    expect(uvm.vpmem.inUse()).toEqual([]);
  });

  it('errors are never fallbacks: no SCSI attempt', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    expect(await code(uvm.addLayer('/missing/layer.vhd'))).toBe('ENOTFOUND');
    backend.disks.define('/l');
    vm.faults.failNext('mountVpmem', 'EGUEST');
    expect(await code(uvm.addLayer('/l'))).toBe('EGUEST');
    for (const failure of ['EQMP', 'ETOOBIG', 'EUNSUPPORTED', 'ENOSLOT'] as const) {
      vm.faults.failNext('addVpmemDevice', failure);
      expect(await code(uvm.addLayer('/l'))).toBe(failure);
    }
    expect(vm.callsOf('addScsiDisk')).toHaveLength(0);
    // the failed mount rolled its device back
    expect(vm.callsOf('removeVpmemDevice')).toEqual([[0]]);
    expect(uvm.vpmem.inUse()).toEqual([]);
    expect(vm.violations).toEqual([]);
  });
});

/** A backend that maps several files into one VPMEM device, as HCS does. */
const hcsLike = () => new FakeBackend({ capabilities: { vpmemMapped: true } });

describe('VPMEM manager: mapped devices (hcsshim mapped VPMEM)', () => {
  it('packs files into the lowest device with room, at page-aligned offsets, and mounts only each file’s range', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 2, maxSizeBytes: 8 * MiB } }, hcsLike());
    backend.disks.define('/a', { sizeBytes: 3 * MiB + 512, files: { who: 'a' } }); // a VHD: data + a 512-byte footer
    backend.disks.define('/b', { sizeBytes: 2 * MiB, files: { who: 'b' } });
    backend.disks.define('/c', { sizeBytes: 4 * MiB, files: { who: 'c' } });
    const a = device(await uvm.vpmem.tryAdd('/a'));
    const b = device(await uvm.vpmem.tryAdd('/b'));
    const c = device(await uvm.vpmem.tryAdd('/c')); // 3 MiB + 4 KiB + 2 MiB used on device 0: the next 4 MiB do not fit
    expect([a.slot, a.mapping]).toEqual([0, { offsetBytes: 0, sizeBytes: 3 * MiB + 4096 }]);
    expect([b.slot, b.mapping]).toEqual([0, { offsetBytes: 3 * MiB + 4096, sizeBytes: 2 * MiB }]);
    expect([c.slot, c.mapping]).toEqual([1, { offsetBytes: 0, sizeBytes: 4 * MiB }]);
    expect(vm.callsOf('addVpmemMapping')).toEqual([
      [0, 0, { hostPath: '/a', format: undefined }],
      [0, 3 * MiB + 4096, { hostPath: '/b', format: undefined }],
      [1, 0, { hostPath: '/c', format: undefined }],
    ]);
    expect(vm.callsOf('addVpmemDevice')).toEqual([]);
    expect(vm.callsOf('mountVpmem').map(([r]) => r)).toEqual([
      { slot: 0, guestPath: a.guestPath, mapping: a.mapping },
      { slot: 0, guestPath: b.guestPath, mapping: b.mapping },
      { slot: 1, guestPath: c.guestPath, mapping: c.mapping },
    ]);
    expect((await vm.exec(['cat', `${b.guestPath}/who`])).stdout.toString()).toBe('b');
    expect([uvm.vpmem.inUse(), [...uvm.vpmem.mappings()]]).toEqual([
      [0, 1],
      [
        [0, 2],
        [1, 1],
      ],
    ]);

    // A freed range is reused by the next file that fits; a device with no file left is free again.
    await a.release();
    const d = device(await uvm.vpmem.tryAdd('/c')); // the same file shares its mapping
    expect(d.mapping).toEqual(c.mapping);
    backend.disks.define('/e', { sizeBytes: 1 * MiB });
    const e = device(await uvm.vpmem.tryAdd('/e'));
    expect([e.slot, e.mapping]).toEqual([0, { offsetBytes: 0, sizeBytes: 1 * MiB }]);
    await Promise.all([b.release(), c.release(), d.release(), e.release()]);
    expect([uvm.vpmem.inUse(), [...uvm.vpmem.mappings()]]).toEqual([[], []]);
    expect(vm.vpmemMappings.size).toBe(0);
    expect(vm.violations).toEqual([]);
  });

  it('teardown is guest unmount, then the mapping; refusals and full devices fall back to SCSI like unmapped ones', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 1, maxSizeBytes: 4 * MiB } }, hcsLike());
    backend.disks.define('/big', { sizeBytes: 5 * MiB });
    backend.disks.define('/raw', { sizeBytes: 1 * MiB, pmemUnsuitable: true });
    backend.disks.define('/x', { sizeBytes: 3 * MiB });
    backend.disks.define('/y', { sizeBytes: 2 * MiB });
    expect(await uvm.vpmem.tryAdd('/big')).toMatchObject({ fallback: 'vpmem-too-large' });
    expect(await uvm.vpmem.tryAdd('/raw')).toMatchObject({ fallback: 'vpmem-unsuitable' });
    const x = device(await uvm.vpmem.tryAdd('/x'));
    expect(await uvm.vpmem.tryAdd('/y')).toMatchObject({ fallback: 'vpmem-full' }); // 1 MiB left of the one device
    const y = await uvm.addLayer('/y');
    expect([y.placement, y.fallbackReason]).toEqual(['scsi', 'vpmem-full']);
    const from = vm.calls.length;
    await x.release();
    expect(vm.calls.slice(from).map((c) => c.op)).toEqual(['unmount', 'removeVpmemMapping']);
    await y.release();
    expect(vm.violations).toEqual([]);
  });

  it('concurrent adds never share a range; a failed mount gives the range back', async () => {
    const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 1, maxSizeBytes: 64 * MiB } }, hcsLike());
    const paths = Array.from({ length: 12 }, (_, i) => `/l${i}`);
    for (const p of paths) backend.disks.define(p, { sizeBytes: 1 * MiB + 1 });
    const devs = (await Promise.all(paths.map((p) => uvm.vpmem.tryAdd(p)))).map(device);
    const offsets = devs.map((d) => d.mapping!.offsetBytes).sort((x, y) => x - y);
    expect(new Set(offsets).size).toBe(12);
    expect(offsets.every((o, i) => i === 0 || o - offsets[i - 1]! >= 1 * MiB + 4096)).toBe(true);
    await Promise.all(devs.map((d) => d.release()));

    vm.faults.failNext('mountVpmem', 'EGUEST');
    expect(await code(uvm.vpmem.tryAdd('/l0'))).toBe('EGUEST');
    expect(vm.callsOf('removeVpmemMapping').at(-1)).toEqual([0, 0]);
    expect(device(await uvm.vpmem.tryAdd('/l1')).mapping).toEqual({ offsetBytes: 0, sizeBytes: 1 * MiB + 4096 });
    expect(vm.violations).toEqual([]);
  });
});
