// Real VM: a layer.vhd from the converter maps as a VPMEM device on QEMU.
// QEMU maps virtio-pmem only in whole 2 MiB sections, and the converter pads
// a VHD layer's data to that with a hole; the same layer converted without
// the padding can only go over SCSI ('vpmem-unsuitable').
import { START_MODES } from '../helpers/vm.js';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertTarToExt4 } from '../../src/layer/index.js';
import { guestOut, ourMounts, sharedUvm } from './vm-layers.js';

describe.each(START_MODES)('converted layers on VPMEM in a real VM (%s start)', (mode) => {
  const vm = sharedUvm('uvm-vpmem-conv', { vpmem: { count: 2, maxSizeBytes: 64 << 20 } }, mode);

  it('maps a converted layer.vhd as /dev/pmemN; an unpadded one falls back to SCSI', async () => {
    const tree = path.join(vm.dir, 'tree');
    mkdirSync(path.join(tree, 'etc'), { recursive: true });
    writeFileSync(path.join(tree, 'etc', 'greeting'), 'hello from a converted layer\n');
    const tar = path.join(vm.dir, 'layer.tar');
    execFileSync('tar', ['-C', tree, '-cf', tar, 'etc']);

    const padded = path.join(vm.dir, 'padded.vhd');
    const unpadded = path.join(vm.dir, 'unpadded.vhd');
    await convertTarToExt4(createReadStream(tar), padded, { whiteouts: true });
    await convertTarToExt4(createReadStream(tar), unpadded, { whiteouts: true, alignBytes: 4096 });

    const p = await vm.uvm.addLayer(padded);
    const u = await vm.uvm.addLayer(unpadded);
    expect([p.placement, p.fallbackReason]).toEqual(['vpmem', undefined]);
    expect([u.placement, u.fallbackReason]).toEqual(['scsi', 'vpmem-unsuitable']);
    const mounts = await guestOut(vm.uvm, ['cat', '/proc/mounts']);
    expect(mounts).toMatch(new RegExp(`^/dev/pmem\\d+ ${p.guestPath} ext4 ro`, 'm'));
    for (const l of [p, u]) expect(await guestOut(vm.uvm, ['cat', `${l.guestPath}/etc/greeting`])).toBe('hello from a converted layer\n');

    await Promise.all([p.release(), u.release()]);
    expect(await ourMounts(vm.uvm)).toEqual([]);
  }, 600_000);

  it('QEMU cannot unplug virtio-pmem: a released layer gets its device back when added again, other files go to SCSI', async () => {
    const layerWith = async (name: string, text: string): Promise<string> => {
      const tree = path.join(vm.dir, `tree-${name}`);
      mkdirSync(tree, { recursive: true });
      writeFileSync(path.join(tree, 'who'), text);
      const tar = path.join(vm.dir, `${name}.tar`);
      execFileSync('tar', ['-C', tree, '-cf', tar, 'who']);
      const out = path.join(vm.dir, `${name}.vhd`);
      await convertTarToExt4(createReadStream(tar), out, { whiteouts: true });
      return out;
    };
    const padded = path.join(vm.dir, 'padded.vhd'); // held by slot 0 since the test above
    const second = await layerWith('second', 'second\n');
    const third = await layerWith('third', 'third\n');

    const again = await vm.uvm.addLayer(padded);
    expect([again.placement, vm.uvm.vpmem.inUse()]).toEqual(['vpmem', [0]]);
    expect(await guestOut(vm.uvm, ['cat', `${again.guestPath}/etc/greeting`])).toBe('hello from a converted layer\n');
    const s = await vm.uvm.addLayer(second);
    expect([s.placement, vm.uvm.vpmem.inUse()]).toEqual(['vpmem', [0, 1]]);
    await Promise.all([again.release(), s.release()]);
    expect(await guestOut(vm.uvm, ['ls', '/dev'])).not.toMatch(/^pmem/m);

    // Both devices still map their files in QEMU: a third file cannot have them ...
    const t = await vm.uvm.addLayer(third);
    expect([t.placement, t.fallbackReason]).toEqual(['scsi', 'vpmem-full']);
    // ... the files they map can, and read what they hold.
    const s2 = await vm.uvm.addLayer(second);
    const p2 = await vm.uvm.addLayer(padded);
    expect([s2.placement, p2.placement, vm.uvm.vpmem.inUse()]).toEqual(['vpmem', 'vpmem', [0, 1]]);
    expect(await guestOut(vm.uvm, ['cat', `${s2.guestPath}/who`])).toBe('second\n');
    expect(await guestOut(vm.uvm, ['cat', `${t.guestPath}/who`])).toBe('third\n');
    expect(await guestOut(vm.uvm, ['cat', `${p2.guestPath}/etc/greeting`])).toBe('hello from a converted layer\n');
    await Promise.all([s2.release(), p2.release(), t.release()]);
    expect(await ourMounts(vm.uvm)).toEqual([]);
  }, 600_000);
});
