// The fake backend itself: it must behave like a VM closely enough that
// uvm/ tests against it mean something (slots, device presence, busy mounts,
// union rules, the one-page mount data limit), and its controls must work.
import { describe, expect, it } from 'vitest';
import { FakeBackend, type FakeVm } from '../../../src/backend/fake/index.js';
import { LCOW_LIMITS } from '../../../src/backend/index.js';
import { isLcowError } from '../../../src/errors.js';
import { errorCode as code } from '../../uvm/fake-uvm.js';

async function started(spec: Partial<{ scsiControllers: number; count: number; maxSizeBytes: number }> = {}): Promise<{ backend: FakeBackend; vm: FakeVm }> {
  const backend = new FakeBackend();
  const vm = await backend.createVm({
    id: 'f',
    memoryMiB: 256,
    cpus: 1,
    boot: await backend.defaultBoot(),
    scsiControllers: spec.scsiControllers ?? 1,
    vpmem: { count: spec.count ?? 2, maxSizeBytes: spec.maxSizeBytes ?? 1 << 20 },
  });
  await vm.start();
  return { backend, vm };
}

describe('fake backend', () => {
  it('checks SCSI addresses and occupancy, and device presence for mounts', async () => {
    const { vm } = await started();
    expect(await code(vm.addScsiDisk(1, 0, { hostPath: '/a', readOnly: true }))).toBe('EINVAL');
    expect(await code(vm.addScsiDisk(0, 64, { hostPath: '/a', readOnly: true }))).toBe('EINVAL');
    await vm.addScsiDisk(0, 0, { hostPath: '/a', readOnly: true });
    expect(await code(vm.addScsiDisk(0, 0, { hostPath: '/b', readOnly: true }))).toBe('EEXIST');
    expect(await code(vm.mountScsi({ controller: 0, lun: 1, guestPath: '/m', readOnly: true }))).toBe('EGUEST');
    expect(await code(vm.mountScsi({ controller: 0, lun: 0, guestPath: '/m', readOnly: false }))).toBe('EGUEST'); // ro disk
    await vm.mountScsi({ controller: 0, lun: 0, guestPath: '/m', readOnly: true });
    expect(await code(vm.unplugScsi(0, 0))).toBe('EBUSY');
    await vm.unmount('/m');
    await vm.unplugScsi(0, 0);
    await vm.removeScsiDisk(0, 0);
    expect(vm.violations).toEqual([]);
  });

  it('records protocol slips a real VM would tolerate', async () => {
    const { vm } = await started();
    await vm.addScsiDisk(0, 0, { hostPath: '/a', readOnly: false });
    await vm.mountScsi({ controller: 0, lun: 0, guestPath: '/m', readOnly: false });
    await vm.removeScsiDisk(0, 0);
    expect(vm.violations).toEqual(['removeScsiDisk 0:0 before the guest unplugged it', 'removeScsiDisk 0:0 while mounted']);
  });

  it('VPMEM: slot range is an error; an oversize or unsuitable file is a typed refusal that changes nothing', async () => {
    const { vm, backend } = await started({ count: 1, maxSizeBytes: 4096 });
    backend.disks.define('/big', { sizeBytes: 8192 });
    backend.disks.define('/odd', { pmemUnsuitable: true, sizeBytes: 4096 });
    backend.disks.define('/ok', { sizeBytes: 4096 });
    expect(await code(vm.addVpmemDevice(1, { hostPath: '/ok' }))).toBe('EINVAL');
    expect(await vm.addVpmemDevice(0, { hostPath: '/big' })).toMatchObject({ added: false, refused: 'too-large', detail: expect.stringContaining('/big') });
    expect(await vm.addVpmemDevice(0, { hostPath: '/odd' })).toMatchObject({ added: false, refused: 'unsuitable' });
    expect(vm.vpmem.size).toBe(0);
    expect(await vm.addVpmemDevice(0, { hostPath: '/ok' })).toEqual({ added: true });
    await vm.mountVpmem({ slot: 0, guestPath: '/p' });
    expect(vm.guest.mounts.get('/p')).toMatchObject({ kind: 'disk', readOnly: true, device: 'pmem:0' });
  });

  it("VPMEM with 'same-file-only' unplug: a removed slot takes back only the disk it maps ('slot-held' otherwise)", async () => {
    const backend = new FakeBackend({ capabilities: { vpmemUnplug: 'same-file-only' } });
    const vm = await backend.createVm({
      id: 'q',
      memoryMiB: 256,
      cpus: 1,
      boot: await backend.defaultBoot(),
      scsiControllers: 1,
      vpmem: { count: 1, maxSizeBytes: 1 << 20 },
    });
    await vm.start();
    for (const p of ['/a', '/b']) backend.disks.define(p);
    await vm.addVpmemDevice(0, { hostPath: '/a' });
    await vm.removeVpmemDevice(0);
    expect(await vm.addVpmemDevice(0, { hostPath: '/b' })).toMatchObject({ added: false, refused: 'slot-held', detail: expect.stringContaining('/a') });
    expect(await vm.addVpmemDevice(0, { hostPath: '/a' })).toEqual({ added: true });
    await vm.removeVpmemDevice(0);
    backend.disks.define('/a'); // replaced on disk: another file at the same path
    expect(await vm.addVpmemDevice(0, { hostPath: '/a' })).toMatchObject({ added: false, refused: 'slot-held' });
  });

  it('declares its limits and capabilities, and holds VM specs to them', async () => {
    expect(new FakeBackend()).toMatchObject({ limits: LCOW_LIMITS, capabilities: { vpmemUnplug: 'full' } });
    const backend = new FakeBackend({ limits: { scsiControllers: 1, lunsPerController: 2, vpmemDevices: 2 } });
    const spec = { id: 'l', memoryMiB: 1, cpus: 1, boot: await backend.defaultBoot(), scsiControllers: 1, vpmem: { count: 2, maxSizeBytes: 4096 } };
    expect(await code(backend.createVm({ ...spec, scsiControllers: 2 }))).toBe('EINVAL');
    expect(await code(backend.createVm({ ...spec, vpmem: { count: 3, maxSizeBytes: 4096 } }))).toBe('EINVAL');
    const vm = await backend.createVm(spec);
    await vm.start();
    expect(await code(vm.addScsiDisk(0, 2, { hostPath: '/a', readOnly: true }))).toBe('EINVAL');
    await vm.addScsiDisk(0, 1, { hostPath: '/a', readOnly: true });
  });

  it('overlay: upper first, lowers top-most first, whiteouts, opaque dirs, copy-up, busy lowers', async () => {
    const { vm, backend } = await started({ count: 0 });
    backend.disks.define('/low', { files: { 'd/a': 'low a', 'd/b': 'low b', 'o/x': 'hidden', keep: 'k', 'w/deep': 'gone' } });
    backend.disks.define('/high', { files: { 'd/a': 'high a', 'd/b': { whiteout: true }, o: { dir: true, opaque: true }, 'o/y': 'y', w: { whiteout: true } } });
    backend.disks.define('/rw');
    const paths = ['/high', '/low', '/rw'];
    for (const [i, p] of paths.entries()) {
      await vm.addScsiDisk(0, i, { hostPath: p, readOnly: p !== '/rw' });
      await vm.mountScsi({ controller: 0, lun: i, guestPath: `/run/m/${i}`, readOnly: p !== '/rw' });
    }
    await vm.combineLayers({ lowerDirs: ['/run/m/0', '/run/m/1'], upperDir: '/run/m/2/upper', workDir: '/run/m/2/work', target: '/root' });
    const g = vm.guest;
    expect(g.readFile('/root/d/a').toString()).toBe('high a');
    expect(g.list('/root/d')).toEqual(['a']);
    expect(g.list('/root/o')).toEqual(['y']);
    expect(g.stat('/root/w/deep')).toBeUndefined();
    expect(g.list('/root')).toEqual(['d', 'keep', 'o']);
    g.writeFile('/root/keep', Buffer.from('changed'));
    g.remove('/root/d/a');
    expect(backend.disks.get('/rw').tree.get('upper/keep')).toEqual({ kind: 'file', data: Buffer.from('changed') });
    expect(backend.disks.get('/rw').tree.get('upper/d/a')).toEqual({ kind: 'whiteout' });
    expect(backend.disks.get('/low').tree.get('keep')).toEqual({ kind: 'file', data: Buffer.from('k') });
    expect(await code(vm.unmount('/run/m/1'))).toBe('EBUSY');
    await vm.removeCombinedLayers('/root');
    await vm.unmount('/run/m/1');
  });

  it('refuses overlay mount data longer than one page', async () => {
    const { vm, backend } = await started({ count: 0 });
    backend.disks.define('/l', { files: { d: { dir: true } } });
    await vm.addScsiDisk(0, 0, { hostPath: '/l', readOnly: true });
    await vm.mountScsi({ controller: 0, lun: 0, guestPath: '/l', readOnly: true });
    const lowerDirs = Array.from({ length: 1000 }, () => '/l/d');
    const err = await vm.combineLayers({ lowerDirs, target: '/t' }).catch((e: unknown) => e);
    expect(isLcowError(err, 'EGUEST') && err.context.errno).toBe('EINVAL');
  });

  it('fault injection: failNext with a matcher and a count, hold gates, kill rejects pending calls', async () => {
    const { vm } = await started();
    vm.faults.failNext('exec', 'ETIMEOUT', { when: (a) => (a[0] as string[])[0] === 'cat', times: 2 });
    expect(await code(vm.exec(['true']))).toBe('resolved');
    expect(await code(vm.exec(['cat', '/x']))).toBe('ETIMEOUT');
    expect(await code(vm.exec(['cat', '/x']))).toBe('ETIMEOUT');
    expect(await code(vm.exec(['cat', '/x']))).toBe('resolved');
    const gate = vm.faults.hold('exec');
    const pending = vm.exec(['true']);
    expect(await gate.reached).toEqual([['true'], undefined]);
    vm.kill();
    expect(await code(pending)).toBe('EVMSTOPPED');
    expect(await vm.waitExit()).toEqual({ reason: 'killed', detail: 'killed by test' });
    expect(await code(vm.exec(['true']))).toBe('EVMSTOPPED');
  });

  it('unknown programs exit 127; argv is never split by a shell', async () => {
    const { vm } = await started();
    expect((await vm.exec(['sh', '-c', 'echo hi'])).exitCode).toBe(127);
    expect((await vm.exec(['echo', '$(reboot)'])).stdout.toString()).toBe('$(reboot)\n');
  });

  it('createVm failures and duplicate ids', async () => {
    const backend = new FakeBackend();
    const spec = { id: 'x', memoryMiB: 1, cpus: 1, boot: await backend.defaultBoot(), scsiControllers: 1, vpmem: { count: 0, maxSizeBytes: 4096 } };
    backend.failNextCreate('EVMSTART');
    expect(await code(backend.createVm(spec))).toBe('EVMSTART');
    await backend.createVm(spec);
    expect(await code(backend.createVm(spec))).toBe('EEXIST');
  });
});
