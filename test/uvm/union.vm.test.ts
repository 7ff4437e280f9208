// Real VM: one union of 127 read-only layers (64 on VPMEM, the rest on SCSI)
// plus a scratch, with the overlay rules checked by the guest kernel — a file
// from the bottom layer, a file shadowed by the top layer, a whiteout in a
// middle layer — then a teardown that leaves no mount and no SCSI device.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUtilityVM, mountContainerLayers, unmountContainerLayers, type UtilityVM } from '../../src/uvm/index.js';
import { readFromExt4, tempDir, testBackend } from '../helpers/vm.js';
import { guestOut, makeLayerImage, makeScratchImage, ourMounts, scsiDevices } from './vm-layers.js';

let uvm: UtilityVM;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('lcow-uvm-union-'));
  uvm = await createUtilityVM({ id: `uvm-union-${process.pid}`, backend: testBackend(), memoryMiB: 768, cpus: 1 });
  await uvm.start();
}, 600_000);

afterAll(async () => {
  await uvm?.terminate();
  await cleanup?.();
});

describe('union mounts in a real VM', () => {
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
      layers.push(await makeLayerImage(dir, `layer${i}.img`, files));
    }
    const scratch = await makeScratchImage(dir);
    const c = await mountContainerLayers(uvm, layers, scratch, '/run/c/many');
    expect(c.layers.filter((l) => l.placement === 'vpmem').length).toBe(64);
    expect(c.layers.filter((l) => l.fallbackReason === 'vpmem-full').length).toBe(63);

    const root = c.rootfs;
    expect(await guestOut(uvm, ['cat', `${root}/bottom`])).toBe('from the bottom\n');
    expect(await guestOut(uvm, ['cat', `${root}/shadow`])).toBe('layer 0\n');
    expect(await guestOut(uvm, ['cat', `${root}/only/126`])).toBe('126\n');
    expect(await guestOut(uvm, ['cat', `${root}/only/0`])).toBe('0\n');
    // layer 60's whiteout hides layer 100's directory; layer 30 (above it) wins over both
    expect(await guestOut(uvm, ['cat', `${root}/doomed`])).toBe('recreated above the whiteout\n');
    expect((await uvm.exec(['cat', `${root}/doomed/file`])).exitCode).not.toBe(0);
    expect((await guestOut(uvm, ['ls', `${root}/only`])).split('\n').filter(Boolean)).toHaveLength(N);
    const overlayLine = (await guestOut(uvm, ['cat', '/proc/mounts'])).split('\n').find((l) => l.startsWith(`overlay ${root} `));
    expect(overlayLine).toContain(`lowerdir=${c.layers.map((l) => l.guestPath).join(':')}`);

    await guestOut(uvm, ['tee', `${root}/written`], 'through the union\n');
    await unmountContainerLayers(c);
    expect(await ourMounts(uvm)).toEqual([]);
    expect(await scsiDevices(uvm)).toEqual([]);
    expect((await readFromExt4(scratch, '/upper/written')).toString()).toBe('through the union\n');
  }, 1_800_000);

  it('without a scratch the union is read-only', async () => {
    const a = await makeLayerImage(dir, 'ro-a.img', { a: 'A\n' });
    const b = await makeLayerImage(dir, 'ro-b.img', { b: 'B\n', gone: 'x' });
    const c = await mountContainerLayers(uvm, [a, b], undefined, '/run/c/ro');
    expect(await guestOut(uvm, ['cat', `${c.rootfs}/a`, `${c.rootfs}/b`])).toBe('A\nB\n');
    expect((await uvm.exec(['tee', `${c.rootfs}/new`], { stdin: 'x' })).exitCode).not.toBe(0);
    await c.release();
    expect(await ourMounts(uvm)).toEqual([]);
  }, 600_000);
});
