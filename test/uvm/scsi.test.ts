import { describe, expect, it } from 'vitest';
import { isLcowError, LcowError } from '../../src/errors.js';
import type { ScsiDisk } from '../../src/uvm/index.js';
import { fakeUvm, errorCode as code } from './fake-uvm.js';

describe('SCSI manager', () => {
  it('takes the first free slot scanning controller-major, and the 257th disk is ENOSLOT with context', async () => {
    const { uvm, vm } = await fakeUvm();
    const disks: ScsiDisk[] = [];
    for (let i = 0; i < 256; i++) disks.push(await uvm.scsi.add(`/d/${i}.vhd`, { readOnly: true }));
    expect(disks.slice(0, 3).map((d) => [d.controller, d.lun])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
    ]);
    expect([disks[63], disks[64], disks[255]].map((d) => [d!.controller, d!.lun])).toEqual([
      [0, 63],
      [1, 0],
      [3, 63],
    ]);
    const err = await uvm.scsi.add('/d/256.vhd', { readOnly: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LcowError);
    expect((err as LcowError).code).toBe('ENOSLOT');
    expect((err as LcowError).context).toMatchObject({ kind: 'scsi', hostPath: '/d/256.vhd', controllers: 4, lunsPerController: 64, vmId: uvm.id });
    // a freed slot is found again by the same scan
    await disks[70]!.release();
    expect((await uvm.scsi.add('/d/again.vhd', { readOnly: true })).lun).toBe(6);
    expect(vm.scsi.size).toBe(256);
  });

  it('honours fewer controllers', async () => {
    const { uvm } = await fakeUvm({ scsiControllers: 1 });
    for (let i = 0; i < 64; i++) await uvm.scsi.add(`/d/${i}`, { readOnly: false });
    expect(await code(uvm.scsi.add('/d/x', { readOnly: false }))).toBe('ENOSLOT');
  });

  it('shares an attachment for the same (path, readOnly); ro and rw of one path are two attachments', async () => {
    const { uvm, vm } = await fakeUvm();
    const a = await uvm.scsi.add('/l.vhd', { readOnly: true });
    const b = await uvm.scsi.add('/l.vhd', { readOnly: true });
    const c = await uvm.scsi.add('/l.vhd', { readOnly: false });
    expect([b.controller, b.lun]).toEqual([a.controller, a.lun]);
    expect([c.controller, c.lun]).toEqual([0, 1]);
    expect(vm.callsOf('addScsiDisk')).toHaveLength(2);
    await a.release();
    expect(vm.callsOf('removeScsiDisk')).toHaveLength(0); // b still holds it
    await b.release();
    await c.release();
    expect(vm.callsOf('removeScsiDisk')).toEqual([
      [0, 0],
      [0, 1],
    ]);
    expect(uvm.scsi.inUse()).toEqual([]);
  });

  it('concurrent requests for the same path share one slot and one host call', async () => {
    const { uvm, vm } = await fakeUvm();
    const gate = vm.faults.hold('addScsiDisk');
    const first = uvm.scsi.add('/same.vhd', { readOnly: true, mount: {} });
    const second = uvm.scsi.add('/same.vhd', { readOnly: true, mount: {} });
    await gate.reached;
    gate.open();
    const [a, b] = await Promise.all([first, second]);
    expect([a.controller, a.lun, a.guestPath]).toEqual([b.controller, b.lun, b.guestPath]);
    expect(vm.callsOf('addScsiDisk')).toHaveLength(1);
    expect(vm.callsOf('mountScsi')).toHaveLength(1);
    await a.release();
    expect(vm.callsOf('unmount')).toHaveLength(0);
    await b.release();
    expect(vm.callsOf('unmount')).toEqual([[a.guestPath]]);
    expect(vm.violations).toEqual([]);
  });

  it('a failed in-flight attach is shared by its waiters and then forgotten', async () => {
    const { uvm, vm } = await fakeUvm();
    const gate = vm.faults.hold('addScsiDisk');
    vm.faults.failNext('addScsiDisk', 'EQMP');
    const first = code(uvm.scsi.add('/f.vhd', { readOnly: true }));
    const second = code(uvm.scsi.add('/f.vhd', { readOnly: true }));
    await gate.reached;
    gate.open();
    expect([await first, await second]).toEqual(['EQMP', 'EQMP']);
    expect(uvm.scsi.inUse()).toEqual([]);
    const ok = await uvm.scsi.add('/f.vhd', { readOnly: true });
    expect([ok.controller, ok.lun]).toEqual([0, 0]);
  });

  it('a failed mount rolls back its attach: unplug, host remove, slot freed', async () => {
    const { uvm, vm } = await fakeUvm();
    vm.faults.failNext('mountScsi', 'EGUEST');
    expect(await code(uvm.scsi.add('/m.vhd', { readOnly: false, mount: {} }))).toBe('EGUEST');
    expect(vm.callsOf('unplugScsi')).toEqual([[0, 0]]);
    expect(vm.callsOf('removeScsiDisk')).toEqual([[0, 0]]);
    expect(uvm.scsi.inUse()).toEqual([]);
    expect(uvm.mountPointsInUse()).toEqual([]);
    expect(vm.violations).toEqual([]);
  });

  it('a failed mount on a shared attachment leaves the other holder attached', async () => {
    const { uvm, vm } = await fakeUvm();
    const held = await uvm.scsi.add('/s.vhd', { readOnly: true });
    vm.faults.failNext('mountScsi');
    expect(await code(uvm.scsi.add('/s.vhd', { readOnly: true, mount: {} }))).toBe('EGUEST');
    expect(vm.callsOf('removeScsiDisk')).toHaveLength(0);
    expect(uvm.scsi.inUse()).toHaveLength(1);
    await held.release();
    expect(uvm.scsi.inUse()).toHaveLength(0);
  });

  it('release twice is EALREADYRELEASED, also while the first is running', async () => {
    const { uvm, vm } = await fakeUvm();
    const d = await uvm.scsi.add('/r.vhd', { readOnly: true, mount: {} });
    const gate = vm.faults.hold('unmount');
    const first = d.release();
    await gate.reached;
    expect(await code(d.release())).toBe('EALREADYRELEASED');
    gate.open();
    await first;
    expect(d.released).toBe(true);
    const err = await d.release().catch((e: unknown) => e);
    expect(isLcowError(err, 'EALREADYRELEASED')).toBe(true);
    expect((err as LcowError).context).toMatchObject({ hostPath: '/r.vhd' });
  });

  it('guest mounts are ref-counted apart from attachments, keyed by device and options', async () => {
    const { uvm, vm } = await fakeUvm();
    const a = await uvm.scsi.add('/o.vhd', { readOnly: true, mount: { options: ['b', 'a'] } });
    const b = await uvm.scsi.add('/o.vhd', { readOnly: true, mount: { options: ['a', 'b'] } });
    const c = await uvm.scsi.add('/o.vhd', { readOnly: true, mount: { options: ['a'] } });
    const bare = await uvm.scsi.add('/o.vhd', { readOnly: true });
    expect(a.guestPath).toBe(b.guestPath);
    expect(c.guestPath).not.toBe(a.guestPath);
    expect(bare.guestPath).toBeUndefined();
    expect(vm.callsOf('addScsiDisk')).toHaveLength(1);
    expect(vm.callsOf('mountScsi')).toHaveLength(2);
    await a.release();
    await c.release();
    expect(vm.callsOf('unmount')).toEqual([[c.guestPath]]);
    await b.release();
    expect(vm.callsOf('unmount')).toHaveLength(2);
    expect(vm.callsOf('removeScsiDisk')).toHaveLength(0);
    await bare.release();
    expect(vm.callsOf('removeScsiDisk')).toHaveLength(1);
  });

  it('mount paths are short, from a per-VM counter, never reused', async () => {
    const { uvm } = await fakeUvm();
    const a = await uvm.scsi.add('/1', { readOnly: true, mount: {} });
    await a.release();
    const b = await uvm.scsi.add('/2', { readOnly: true, mount: {} });
    expect([a.guestPath, b.guestPath]).toEqual(['/run/m/0', '/run/m/1']);
  });

  it('an explicit guest path that another mount uses is EMOUNTCONFLICT, and rolls back the attach', async () => {
    const { uvm, vm } = await fakeUvm();
    const a = await uvm.scsi.add('/a', { readOnly: true, mount: { guestPath: '/tmp/x' } });
    expect(a.guestPath).toBe('/tmp/x');
    expect(await code(uvm.scsi.add('/b', { readOnly: true, mount: { guestPath: '/tmp/x' } }))).toBe('EMOUNTCONFLICT');
    expect(vm.callsOf('removeScsiDisk')).toEqual([[0, 1]]);
    expect(await code(uvm.scsi.add('/c', { readOnly: true, mount: { guestPath: '/run/m/0' } }))).toBe('resolved');
    // the counter skips a path a caller took explicitly
    expect((await uvm.scsi.add('/d', { readOnly: true, mount: {} })).guestPath).toBe('/run/m/1');
  });

  it('a failed release leaves the handle held; retrying resumes at the step that failed', async () => {
    const { uvm, vm } = await fakeUvm();
    const d = await uvm.scsi.add('/x.vhd', { readOnly: false, mount: {} });
    vm.faults.failNext('unmount', 'EBUSY');
    expect(await code(d.release())).toBe('EBUSY');
    expect(d.released).toBe(false);
    vm.faults.failNext('removeScsiDisk', 'EQMP');
    expect(await code(d.release())).toBe('EQMP'); // unmount and unplug done, host remove failed
    expect(uvm.scsi.inUse()).toHaveLength(1); // the slot stays taken: the host may still hold the disk
    await d.release();
    expect(d.released).toBe(true);
    expect(vm.callsOf('unmount')).toHaveLength(2); // failed once, then done once
    expect(vm.callsOf('unplugScsi')).toHaveLength(1); // not repeated on the retry
    expect(vm.callsOf('removeScsiDisk')).toHaveLength(2);
    expect(uvm.scsi.inUse()).toEqual([]);
    expect(vm.violations).toEqual([]);
  });

  it('a request for a disk on its way out waits and attaches afresh', async () => {
    const { uvm, vm } = await fakeUvm();
    const d = await uvm.scsi.add('/w.vhd', { readOnly: true });
    const gate = vm.faults.hold('removeScsiDisk');
    const leaving = d.release();
    await gate.reached;
    const again = uvm.scsi.add('/w.vhd', { readOnly: true });
    gate.open();
    await leaving;
    const d2 = await again;
    expect(vm.callsOf('addScsiDisk')).toHaveLength(2);
    expect([d2.controller, d2.lun]).toEqual([0, 0]);
    expect(vm.violations).toEqual([]);
  });
});
