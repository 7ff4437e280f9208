// Real VM: layer placement against QEMU — VPMEM first (the guest mounts
// /dev/pmemN), SCSI when VPMEM is full (one device) or the layer is larger
// than the device maximum; every layer readable, nothing left after release.
import { START_MODES } from '../helpers/vm.js';
import { describe, expect, it } from 'vitest';
import { guestOut, makeLayerImage, ourMounts, scsiDevices, sharedUvm } from './vm-layers.js';

describe.each(START_MODES)('VPMEM and the SCSI fallback in a real VM (%s start)', (mode) => {
  const vm = sharedUvm('uvm-vpmem', { vpmem: { count: 1, maxSizeBytes: 4 << 20 } }, mode);

  it('VPMEM first; SCSI when VPMEM is full or the layer is too large', async () => {
    const a = await vm.uvm.addLayer(await makeLayerImage(vm.dir, 'a.img', { who: 'a\n' }, 4));
    const b = await vm.uvm.addLayer(await makeLayerImage(vm.dir, 'b.img', { who: 'b\n' }, 4));
    const big = await vm.uvm.addLayer(await makeLayerImage(vm.dir, 'big.img', { who: 'big\n' }, 8));
    expect([a.placement, a.fallbackReason]).toEqual(['vpmem', undefined]);
    expect([b.placement, b.fallbackReason]).toEqual(['scsi', 'vpmem-full']);
    expect([big.placement, big.fallbackReason]).toEqual(['scsi', 'vpmem-too-large']);

    const mounts = await guestOut(vm.uvm, ['cat', '/proc/mounts']);
    expect(mounts).toMatch(new RegExp(`^/dev/pmem\\d+ ${a.guestPath} ext4 ro`, 'm'));
    expect(mounts).toMatch(new RegExp(`^/dev/sd[a-z]+ ${b.guestPath} ext4 ro`, 'm'));
    for (const [l, who] of [
      [a, 'a'],
      [b, 'b'],
      [big, 'big'],
    ] as const)
      expect(await guestOut(vm.uvm, ['cat', `${l.guestPath}/who`])).toBe(`${who}\n`);

    await Promise.all([a.release(), b.release(), big.release()]);
    expect(await ourMounts(vm.uvm)).toEqual([]);
    expect(await scsiDevices(vm.uvm)).toEqual([]);
    expect(await guestOut(vm.uvm, ['ls', '/dev'])).not.toMatch(/^pmem/m);
    expect(vm.uvm.vpmem.inUse()).toEqual([]);
  }, 600_000);
});
