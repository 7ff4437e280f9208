// Real VM: a layer.vhd from the converter maps as a VPMEM device on QEMU.
// QEMU maps virtio-pmem only in whole 2 MiB sections, and the converter pads
// a VHD layer's data to that with a hole; the same layer converted without
// the padding can only go over SCSI ('vpmem-unsuitable').
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertTarToExt4 } from '../../src/ext4/index.js';
import { guestOut, ourMounts, sharedUvm } from './vm-layers.js';

const vm = sharedUvm('uvm-vpmem-conv', { vpmem: { count: 2, maxSizeBytes: 64 << 20 } });

describe('converted layers on VPMEM in a real VM', () => {
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
});
