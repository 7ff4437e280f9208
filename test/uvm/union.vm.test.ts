// Real VM: one union of 127 read-only layers (64 on VPMEM, the rest on SCSI)
// plus a scratch, with the overlay rules checked by the guest kernel — a file
// from the bottom layer, a file shadowed by the top layer, a whiteout in a
// middle layer — then a teardown that leaves no mount and no SCSI device.
import { describe, expect, it } from 'vitest';
import { mountContainerLayers, unmountContainerLayers } from '../../src/uvm/index.js';
import { START_MODES, GCS_BINARY, readFromExt4 } from '../helpers/vm.js';
import { gcsSteps, guestOut, makeLayerImage, makeScratchImage, ourMounts, pmemDevices, scsiDevices, sharedUvm } from './vm-layers.js';

describe.each(START_MODES)('union mounts in a real VM (%s start)', (mode) => {
  const vm = sharedUvm('uvm-union', { memoryMiB: 768 }, mode);

  it('127 layers in one overlay: bottom file, shadowed file, whiteout; writes land in the scratch', async () => {
    const N = 127;
    const layers: string[] = [];
    for (let i = 0; i < N; i++) {
      // index 0 is the top-most layer
      const files: Record<string, string | { whiteout: true }> = { shadow: `layer ${i}\n`, [`only/${i}`]: `${i}\n` };
      if (i === N - 1) files.bottom = 'from the bottom\n';
      if (i === 100) files['doomed/file'] = 'should be hidden\n';
      if (i === 60) files.doomed = { whiteout: true };
      if (i === 30) files.doomed = 'recreated above the whiteout\n';
      layers.push(await makeLayerImage(vm.dir, `layer${i}.img`, files));
    }
    const scratch = await makeScratchImage(vm.dir);
    const c = await mountContainerLayers(vm.uvm, layers, scratch, '/run/c/many');
    expect(c.layers.filter((l) => l.placement === 'vpmem').length).toBe(64);
    expect(c.layers.filter((l) => l.fallbackReason === 'vpmem-full').length).toBe(63);

    const root = c.rootfs;
    expect(await guestOut(vm.uvm, ['cat', `${root}/bottom`])).toBe('from the bottom\n');
    expect(await guestOut(vm.uvm, ['cat', `${root}/shadow`])).toBe('layer 0\n');
    expect(await guestOut(vm.uvm, ['cat', `${root}/only/126`])).toBe('126\n');
    expect(await guestOut(vm.uvm, ['cat', `${root}/only/0`])).toBe('0\n');
    // layer 60's whiteout hides layer 100's directory; layer 30 (above it) wins over both
    expect(await guestOut(vm.uvm, ['cat', `${root}/doomed`])).toBe('recreated above the whiteout\n');
    expect((await vm.uvm.exec(['cat', `${root}/doomed/file`])).exitCode).not.toBe(0);
    expect((await guestOut(vm.uvm, ['ls', `${root}/only`])).split('\n').filter(Boolean)).toHaveLength(N);
    const overlayLine = (await guestOut(vm.uvm, ['cat', '/proc/mounts'])).split('\n').find((l) => l.startsWith(`overlay ${root} `));
    expect(overlayLine).toContain(`lowerdir=${c.layers.map((l) => l.guestPath).join(':')}`);

    await guestOut(vm.uvm, ['tee', `${root}/written`], 'through the union\n');
    await unmountContainerLayers(c);
    expect(await ourMounts(vm.uvm)).toEqual([]);
    expect(await scsiDevices(vm.uvm)).toEqual([]);
    expect(await pmemDevices(vm.uvm)).toEqual([]);
    expect((await readFromExt4(scratch, '/upper/written')).toString()).toBe('through the union\n');
    if (GCS_BINARY) {
      // every mount, the union, every unmount and unplug was the GCS's (63 SCSI layers + the scratch; 64 on VPMEM)
      expect(await gcsSteps(vm.uvm)).toMatchObject({
        'scsi::Mount': 64,
        'pmem::Mount': 64,
        'overlay::MountLayer': 1,
        'scsi::Unmount': 64,
        'pmem::Unmount': 64,
        'scsi::UnplugDevice': 64,
      });
    }
  }, 1_800_000);

  it('without a scratch the union is read-only', async () => {
    const a = await makeLayerImage(vm.dir, 'ro-a.img', { a: 'A\n' });
    const b = await makeLayerImage(vm.dir, 'ro-b.img', { b: 'B\n', gone: 'x' });
    const c = await mountContainerLayers(vm.uvm, [a, b], undefined, '/run/c/ro');
    expect(await guestOut(vm.uvm, ['cat', `${c.rootfs}/a`, `${c.rootfs}/b`])).toBe('A\nB\n');
    expect((await vm.uvm.exec(['tee', `${c.rootfs}/new`], { stdin: 'x' })).exitCode).not.toBe(0);
    await c.release();
    expect(await ourMounts(vm.uvm)).toEqual([]);
  }, 600_000);
});
