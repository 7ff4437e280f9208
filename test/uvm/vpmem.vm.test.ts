// Real VM: layer placement against QEMU — VPMEM first (the guest mounts
// /dev/pmemN), SCSI when VPMEM is full (one device) or the layer is larger
// than the device maximum; every layer readable, nothing left after release.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUtilityVM, type UtilityVM } from '../../src/uvm/index.js';
import { tempDir, testBackend } from '../helpers/vm.js';
import { guestOut, makeLayerImage, ourMounts, scsiDevices } from './vm-layers.js';

let uvm: UtilityVM;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('lcow-uvm-vpmem-'));
  uvm = await createUtilityVM({ id: `uvm-vpmem-${process.pid}`, backend: testBackend(), memoryMiB: 512, cpus: 1, vpmem: { count: 1, maxSizeBytes: 4 << 20 } });
  await uvm.start();
}, 600_000);

afterAll(async () => {
  await uvm?.terminate();
  await cleanup?.();
});

describe('VPMEM and the SCSI fallback in a real VM', () => {
  it('VPMEM first; SCSI when VPMEM is full or the layer is too large', async () => {
    const a = await uvm.addLayer(await makeLayerImage(dir, 'a.img', { who: 'a\n' }, 4));
    const b = await uvm.addLayer(await makeLayerImage(dir, 'b.img', { who: 'b\n' }, 4));
    const big = await uvm.addLayer(await makeLayerImage(dir, 'big.img', { who: 'big\n' }, 8));
    expect([a.placement, a.fallbackReason]).toEqual(['vpmem', undefined]);
    expect([b.placement, b.fallbackReason]).toEqual(['scsi', 'vpmem-full']);
    expect([big.placement, big.fallbackReason]).toEqual(['scsi', 'vpmem-too-large']);

    const mounts = await guestOut(uvm, ['cat', '/proc/mounts']);
    expect(mounts).toMatch(new RegExp(`^/dev/pmem\\d+ ${a.guestPath} ext4 ro`, 'm'));
    expect(mounts).toMatch(new RegExp(`^/dev/sd[a-z]+ ${b.guestPath} ext4 ro`, 'm'));
    for (const [l, who] of [[a, 'a'], [b, 'b'], [big, 'big']] as const) expect(await guestOut(uvm, ['cat', `${l.guestPath}/who`])).toBe(`${who}\n`);

    await Promise.all([a.release(), b.release(), big.release()]);
    expect(await ourMounts(uvm)).toEqual([]);
    expect(await scsiDevices(uvm)).toEqual([]);
    expect(await guestOut(uvm, ['ls', '/dev'])).not.toMatch(/^pmem/m);
    expect(uvm.vpmem.inUse()).toEqual([]);
  }, 600_000);
});
