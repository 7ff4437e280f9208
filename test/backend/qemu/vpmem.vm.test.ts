// Real VM: VPMEM devices (virtio-pmem on a root port, backed read-only by
// the layer file) mounted by slot, released with no stale /dev/pmem, and
// the typed refusals (results, not errors) the VPMEM manager falls back from.
import { createHash } from 'node:crypto';
import { cp, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QemuVm } from '../../../src/backend/qemu/index.js';
import { isLcowError } from '../../../src/errors.js';

const added = { added: true };
import { bootTestVm, convertDisk, guestText, makeExt4Disk, tempDir } from '../../helpers/vm.js';

let vm: QemuVm;
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  vm = await bootTestVm({ vpmem: { count: 3, maxSizeBytes: 16 << 20 } });
});

afterAll(async () => {
  await vm?.terminate();
  await cleanup?.();
});

describe('qemu backend VPMEM', () => {
  it('maps two layers by slot (not probe order), reads them, and releases them', async () => {
    const a = await makeExt4Disk({ 'who.txt': 'layer A\n' }, { dir, name: 'a.img', sizeMiB: 4 });
    const rawB = await makeExt4Disk({ 'who.txt': 'layer B\n' }, { dir, name: 'b.img', sizeMiB: 4 });
    // a fixed VHD: the footer is left out of the mapping
    const b = await convertDisk(rawB, 'vhd', path.join(dir, 'b.vhd'));
    const before = createHash('sha256')
      .update(await readFile(b))
      .digest('hex');

    // slot 2 first, so probe order (pmem0 = slot 2) differs from slot order
    expect(await vm.addVpmemDevice(2, { hostPath: b })).toEqual(added);
    expect(await vm.addVpmemDevice(0, { hostPath: a })).toEqual(added);
    await vm.mountVpmem({ slot: 0, guestPath: '/run/p/0' });
    await vm.mountVpmem({ slot: 2, guestPath: '/run/p/2' });
    expect(await guestText(vm, ['cat', '/run/p/0/who.txt'])).toBe('layer A\n');
    expect(await guestText(vm, ['cat', '/run/p/2/who.txt'])).toBe('layer B\n');
    expect(await guestText(vm, ['cat', '/proc/mounts'])).toMatch(/\/dev\/pmem\d \/run\/p\/0 ext4 ro/);

    // still mounted: the guest refuses to let go
    const busy = await vm.removeVpmemDevice(0).catch((e: unknown) => e);
    expect(isLcowError(busy, 'EEXEC')).toBe(true);

    for (const slot of [0, 2]) {
      await vm.unmount(`/run/p/${slot}`);
      await vm.removeVpmemDevice(slot);
    }
    expect(await guestText(vm, ['cat', '/proc/mounts'])).not.toMatch(/pmem/);
    expect((await vm.exec(['/bin/sh', '-c', 'ls /dev/pmem*'])).exitCode).not.toBe(0);
    // the layer file was mapped read-only and private: unchanged
    expect(
      createHash('sha256')
        .update(await readFile(b))
        .digest('hex'),
    ).toBe(before);

    // QEMU cannot unplug virtio-pmem: a released slot keeps mapping its file, so
    // another file cannot have it ('slot-held', naming the file) ...
    expect(await vm.addVpmemDevice(0, { hostPath: b })).toEqual({ added: false, refused: 'slot-held', detail: expect.stringContaining(a) });
    // ... but the same file gets the device back: the guest rebinds it.
    expect(await vm.addVpmemDevice(0, { hostPath: a })).toEqual(added);
    await vm.mountVpmem({ slot: 0, guestPath: '/run/p/0' });
    expect(await guestText(vm, ['cat', '/run/p/0/who.txt'])).toBe('layer A\n');
    await vm.unmount('/run/p/0');
    await vm.removeVpmemDevice(0);
    // A file replaced at the same path (a new inode) is another file.
    await cp(b, `${a}.new`);
    await rename(`${a}.new`, a);
    expect(await vm.addVpmemDevice(0, { hostPath: a })).toMatchObject({ added: false, refused: 'slot-held' });
  });

  it("answers what cannot be a VPMEM device with a typed refusal ('unsuitable', 'too-large') that leaves the slot free", async () => {
    const odd = await makeExt4Disk({}, { dir, name: 'odd.img', sizeMiB: 3 });
    expect((await stat(odd)).size % (2 << 20)).not.toBe(0);
    expect(await vm.addVpmemDevice(1, { hostPath: odd })).toMatchObject({ added: false, refused: 'unsuitable' });

    const big = await makeExt4Disk({}, { dir, name: 'big.img', sizeMiB: 32 });
    expect(await vm.addVpmemDevice(1, { hostPath: big })).toMatchObject({ added: false, refused: 'too-large' });

    const vhdx = await convertDisk(await makeExt4Disk({}, { dir, name: 'x.raw', sizeMiB: 4 }), 'vhdx', path.join(dir, 'x.vhdx'));
    expect(await vm.addVpmemDevice(1, { hostPath: vhdx })).toMatchObject({ added: false, refused: 'unsuitable' });

    // a missing file is an error, not a refusal
    const missing = await vm.addVpmemDevice(1, { hostPath: path.join(dir, 'none.img') }).catch((e: unknown) => e);
    expect(isLcowError(missing, 'ENOTFOUND')).toBe(true);

    // slot 1 is still free after all that
    const ok = await makeExt4Disk({ 'ok.txt': 'ok' }, { dir, name: 'ok.img', sizeMiB: 2 });
    expect(await vm.addVpmemDevice(1, { hostPath: ok })).toEqual(added);
    await vm.mountVpmem({ slot: 1, guestPath: '/run/p/1' });
    expect(await guestText(vm, ['cat', '/run/p/1/ok.txt'])).toBe('ok');
    await vm.unmount('/run/p/1');
    await vm.removeVpmemDevice(1);
  });
});
