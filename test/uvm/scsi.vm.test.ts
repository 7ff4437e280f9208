// Real VM: the SCSI manager against QEMU — a read-only and a read-write
// attachment of the same kind of disk, mounted at short paths; bytes read
// back; a write through the read-write mount visible on the host after
// detach; sharing and ro/rw separation as the guest sees them; and nothing
// left behind (no mount, no SCSI device) after release.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { START_MODES, GUEST_FAILURE_CODE, readFromExt4 } from '../helpers/vm.js';
import { guestOut, makeLayerImage, makeScratchImage, ourMounts, scsiDevices, sharedUvm } from './vm-layers.js';

const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31) % 251));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.each(START_MODES)('SCSI manager in a real VM (%s start)', (mode) => {
  const vm = sharedUvm('uvm-scsi', { vpmem: { count: 0 } }, mode);

  it('attaches ro and rw, reads bytes back, writes through rw, and leaves nothing behind', async () => {
    const roImage = await makeLayerImage(vm.dir, 'ro.img', { 'data/payload.bin': payload, 'hello.txt': 'hello\n' }, 8);
    const rwImage = await makeScratchImage(vm.dir, 'rw.img', 16);
    const ro = await vm.uvm.scsi.add(roImage, { readOnly: true, mount: {} });
    const rw = await vm.uvm.scsi.add(rwImage, { readOnly: false, mount: {} });
    expect([ro.controller, ro.lun, rw.controller, rw.lun]).toEqual([0, 0, 0, 1]);
    expect(ro.guestPath).toMatch(/^\/run\/m\/\d+$/);

    const read = await vm.uvm.exec(['cat', `${ro.guestPath}/data/payload.bin`]);
    expect(sha(read.stdout)).toBe(sha(payload));
    expect((await vm.uvm.exec(['tee', `${ro.guestPath}/nope`], { stdin: 'x' })).exitCode).not.toBe(0);
    await guestOut(vm.uvm, ['tee', `${rw.guestPath}/written.bin`], payload);

    // the same read-only request shares the slot and the mount; the guest sees one device per attachment
    const again = await vm.uvm.scsi.add(roImage, { readOnly: true, mount: {} });
    expect([again.controller, again.lun, again.guestPath]).toEqual([ro.controller, ro.lun, ro.guestPath]);
    expect(await scsiDevices(vm.uvm)).toHaveLength(2);
    await again.release();
    expect(await guestOut(vm.uvm, ['cat', `${ro.guestPath}/hello.txt`])).toBe('hello\n');

    await ro.release();
    await rw.release();
    expect(await ourMounts(vm.uvm)).toEqual([]);
    expect(await scsiDevices(vm.uvm)).toEqual([]);
    expect(sha(await readFromExt4(rwImage, '/written.bin'))).toBe(sha(payload));
  }, 600_000);

  it('the same file read-only and read-write is two attachments (QEMU refuses them at once: image lock)', async () => {
    const image = await makeScratchImage(vm.dir, 'both.img', 16);
    const rw = await vm.uvm.scsi.add(image, { readOnly: false, mount: {} });
    await guestOut(vm.uvm, ['tee', `${rw.guestPath}/f`], 'data\n');
    // a read-only request is a second attachment at a new slot; QEMU will not open a file
    // that another drive writes, and the refused attach leaves no slot taken
    const err = await vm.uvm.scsi.add(image, { readOnly: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'EQMP' });
    expect(vm.uvm.scsi.inUse().map((a) => [a.controller, a.lun, a.readOnly])).toEqual([[rw.controller, rw.lun, false]]);
    await rw.release();
    const ro = await vm.uvm.scsi.add(image, { readOnly: true, mount: {} });
    const ro2 = await vm.uvm.scsi.add(image, { readOnly: true });
    expect([ro2.controller, ro2.lun]).toEqual([ro.controller, ro.lun]);
    expect(await scsiDevices(vm.uvm)).toHaveLength(1);
    expect(await guestOut(vm.uvm, ['cat', `${ro.guestPath}/f`])).toBe('data\n');
    await ro.release();
    await ro2.release();
    expect(await scsiDevices(vm.uvm)).toEqual([]);
  }, 600_000);

  it('a failed mount rolls back the attach (no device left in the guest)', async () => {
    const notExt4 = await makeScratchImage(vm.dir, 'x.img', 4);
    // ask for a file system the disk does not have: the guest mount fails (the GCS's HRESULT in gcs mode)
    const err = await vm.uvm.scsi.add(notExt4, { readOnly: true, mount: { fsType: 'xfs' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: GUEST_FAILURE_CODE });
    expect(await scsiDevices(vm.uvm)).toEqual([]);
    expect(vm.uvm.scsi.inUse()).toEqual([]);
    expect(await ourMounts(vm.uvm)).toEqual([]);
  }, 600_000);
});
