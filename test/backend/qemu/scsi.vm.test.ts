// Real VM: SCSI disks through QMP hot-plug and guest mounts — read-only and
// read-write, raw / fixed VHD / VHDX — and a clean detach (no stale mount,
// no stale SCSI device) with the guest's writes visible on the host after.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QemuVm } from '../../../src/backend/qemu/index.js';
import { inspectDisk } from '../../../src/backend/qemu/index.js';
import { isLcowError } from '../../../src/errors.js';
import { GUEST_FAILURE_CODE, bootTestVm, convertDisk, guestText, makeExt4Disk, readFromExt4, tempDir } from '../../helpers/vm.js';

let vm: QemuVm;
let dir: string;
let cleanup: () => Promise<void>;
const payload = Buffer.from(Array.from({ length: 70000 }, (_, i) => (i * 7) % 256));

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  vm = await bootTestVm({ scsiControllers: 2 });
});

afterAll(async () => {
  await vm?.terminate();
  await cleanup?.();
});

async function sha(guestFile: string): Promise<string> {
  return (await guestText(vm, ['sha256sum', guestFile])).split(' ')[0]!;
}

function hostSha(b: Buffer): Promise<string> {
  return import('node:crypto').then((c) => c.createHash('sha256').update(b).digest('hex'));
}

async function attachMount(controller: number, lun: number, hostPath: string, readOnly: boolean, guestPath: string): Promise<void> {
  await vm.addScsiDisk(controller, lun, { hostPath, readOnly });
  await vm.mountScsi({ controller, lun, guestPath, readOnly });
}

async function detach(controller: number, lun: number, guestPath: string): Promise<void> {
  await vm.unmount(guestPath);
  await vm.unplugScsi(controller, lun);
  await vm.removeScsiDisk(controller, lun);
}

describe('qemu backend SCSI', () => {
  it('mounts a read-only disk and a read-write one; writes reach the host file', async () => {
    const ro = await makeExt4Disk({ 'data/payload.bin': payload, 'hello.txt': 'hello from ro\n' }, { dir, name: 'ro.img' });
    const rw = await makeExt4Disk({ 'seed.txt': 'seed' }, { dir, name: 'rw.img' });
    await attachMount(0, 0, ro, true, '/run/m/ro');
    await attachMount(1, 5, rw, false, '/run/m/rw');

    expect(await guestText(vm, ['cat', '/run/m/ro/hello.txt'])).toBe('hello from ro\n');
    expect(await sha('/run/m/ro/data/payload.bin')).toBe(await hostSha(payload));
    const roWrite = await vm.exec(['/bin/sh', '-c', 'echo x > /run/m/ro/new']);
    expect(roWrite.exitCode).not.toBe(0);

    const written = await vm.exec(['/bin/sh', '-c', 'cat > /run/m/rw/written.bin'], { stdin: payload });
    expect(written.exitCode).toBe(0);
    const mounts = await guestText(vm, ['cat', '/proc/mounts']);
    expect(mounts).toMatch(/ \/run\/m\/ro ext4 ro[, ]/);
    expect(mounts).toMatch(/ \/run\/m\/rw ext4 rw[, ]/);

    await detach(0, 0, '/run/m/ro');
    await detach(1, 5, '/run/m/rw');

    const after = await guestText(vm, ['cat', '/proc/mounts']);
    expect(after).not.toMatch(/\/run\/m\//);
    const devices = await guestText(vm, ['ls', '/sys/bus/scsi/devices']);
    expect(devices).not.toMatch(/\d+:0:0:(0|5)\b/);
    expect((await vm.exec(['ls', '-d', '/run/m/ro'])).exitCode).not.toBe(0);
    // the guest unmounted before detach, so the host sees its write
    expect(Buffer.compare(await readFromExt4(rw, '/written.bin'), payload)).toBe(0);
  });

  it.each(['vhd', 'vhdx'] as const)('detects and mounts a %s disk', async (format) => {
    const raw = await makeExt4Disk({ 'f.txt': `this is ${format}\n` }, { dir, name: `${format}.raw` });
    const disk = await convertDisk(raw, format, path.join(dir, `disk.${format}`));
    expect((await inspectDisk(disk)).format).toBe(format);
    await attachMount(0, 9, disk, true, `/run/m/${format}`);
    expect(await guestText(vm, ['cat', `/run/m/${format}/f.txt`])).toBe(`this is ${format}\n`);
    await detach(0, 9, `/run/m/${format}`);
  });

  it('writes through a VHDX read-write', async () => {
    const raw = await makeExt4Disk({}, { dir, name: 'rwx.raw' });
    const disk = await convertDisk(raw, 'vhdx', path.join(dir, 'rw.vhdx'));
    await attachMount(0, 1, disk, false, '/run/m/x');
    expect((await vm.exec(['/bin/sh', '-c', 'echo kept > /run/m/x/k.txt'])).exitCode).toBe(0);
    await detach(0, 1, '/run/m/x');
    // back to raw on the host to read it
    const { execFileSync } = await import('node:child_process');
    const back = path.join(dir, 'rw-back.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', disk, back]);
    expect((await readFromExt4(back, '/k.txt')).toString()).toBe('kept\n');
  });

  it('combines layers into an overlay: top-most first, read-only or with a read-write upper', async () => {
    const lower = await makeExt4Disk({ 'both.txt': 'from lower\n', 'only-lower.txt': 'l\n' }, { dir, name: 'lower.img' });
    const upper = await makeExt4Disk({ 'both.txt': 'from upper layer\n' }, { dir, name: 'upper.img' });
    const scratch = await makeExt4Disk({}, { dir, name: 'scratch.img' });
    await attachMount(0, 10, lower, true, '/run/m/10');
    await attachMount(0, 11, upper, true, '/run/m/11');
    await attachMount(1, 12, scratch, false, '/run/m/12');

    await vm.combineLayers({ lowerDirs: ['/run/m/11', '/run/m/10'], target: '/run/c/ro' });
    expect(await guestText(vm, ['cat', '/run/c/ro/both.txt', '/run/c/ro/only-lower.txt'])).toBe('from upper layer\nl\n');
    expect((await vm.exec(['/bin/sh', '-c', 'echo x > /run/c/ro/new'])).exitCode).not.toBe(0);

    await vm.combineLayers({ lowerDirs: ['/run/m/11', '/run/m/10'], upperDir: '/run/m/12/upper', workDir: '/run/m/12/work', target: '/run/c/rw' });
    expect((await vm.exec(['/bin/sh', '-c', 'echo new > /run/c/rw/new.txt && rm /run/c/rw/only-lower.txt'])).exitCode).toBe(0);
    expect(await guestText(vm, ['ls', '/run/c/rw'])).toBe('both.txt\nlost+found\nnew.txt\n');
    expect(await guestText(vm, ['cat', '/run/m/12/upper/new.txt'])).toBe('new\n');
    // the deletion is an overlay whiteout (char device 0:0) in the upper dir
    expect(await guestText(vm, ['stat', '-c', '%F %t:%T', '/run/m/12/upper/only-lower.txt'])).toBe('character special file 0:0\n');
    const mounts = await guestText(vm, ['cat', '/proc/mounts']);
    expect(mounts).toContain('overlay /run/c/ro overlay ro');
    expect(mounts).toMatch(/lowerdir=\/run\/m\/11:\/run\/m\/10,upperdir=\/run\/m\/12\/upper,workdir=\/run\/m\/12\/work/);

    await vm.removeCombinedLayers('/run/c/rw');
    await vm.removeCombinedLayers('/run/c/ro');
    expect(await guestText(vm, ['cat', '/proc/mounts'])).not.toMatch(/overlay/);
    await detach(1, 12, '/run/m/12');
    await detach(0, 11, '/run/m/11');
    await detach(0, 10, '/run/m/10');
    // the scratch on the host holds the container's changes
    expect((await readFromExt4(scratch, '/upper/new.txt')).toString()).toBe('new\n');
  });

  it('stacks 127 lower directories in one overlay (short paths keep the mount data under a page)', async () => {
    const dirs = Array.from({ length: 127 }, (_, i) => `/run/l/${i}`);
    // each lower dir gets its own file, and all share one name that the top-most must win
    const made = await vm.exec([
      '/bin/sh',
      '-c',
      'for d in "$@"; do mkdir -p "$d" && echo "${d##*/}" > "$d/f${d##*/}" && echo "${d##*/}" > "$d/shared"; done',
      'sh',
      ...dirs,
    ]);
    expect(made.exitCode).toBe(0);
    await vm.combineLayers({ lowerDirs: dirs, target: '/run/c/deep' });
    expect((await guestText(vm, ['ls', '/run/c/deep'])).trim().split('\n')).toHaveLength(128);
    expect(await guestText(vm, ['cat', '/run/c/deep/shared'])).toBe('0\n');
    await vm.removeCombinedLayers('/run/c/deep');
  });

  it("rejects a location outside the VM with EINVAL and a bad mount with the guest's failure (EEXEC, or EGCS in gcs mode), leaving no mount point", async () => {
    const disk = await makeExt4Disk({}, { dir, name: 'bad.img' });
    const bad = await vm.addScsiDisk(4, 0, { hostPath: disk, readOnly: true }).catch((e: unknown) => e);
    expect(isLcowError(bad, 'EINVAL')).toBe(true);
    await vm.addScsiDisk(0, 2, { hostPath: disk, readOnly: true });
    const err = await vm.mountScsi({ controller: 0, lun: 2, guestPath: '/run/m/bad', readOnly: true, fsType: 'xfs' }).catch((e: unknown) => e);
    expect(isLcowError(err, GUEST_FAILURE_CODE)).toBe(true);
    expect((await vm.exec(['ls', '-d', '/run/m/bad'])).exitCode).not.toBe(0);
    await vm.unplugScsi(0, 2);
    await vm.removeScsiDisk(0, 2);
    expect(existsSync(disk)).toBe(true);
  });

  it('releases many disks at once, each step its own result: one failing unmount among them fails alone', async () => {
    // In qemu-guest-agent mode the unmounts pending together run as one guest
    // process (guest-batch.ts); in gcs mode each is a bridge request. Disk 0
    // has a mount inside it, so its unmount must fail (EBUSY).
    const disks = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => makeExt4Disk({ [`f${i}`]: String(i), 'sub/.keep': '' }, { dir, name: `many-${i}.img` })));
    for (const [i, d] of disks.entries()) await attachMount(i % 2, 10 + i, d, true, `/run/m/many-${i}`);
    expect((await vm.exec(['mount', '--bind', '/bin', '/run/m/many-0/sub'])).exitCode).toBe(0);
    const results = await Promise.allSettled(disks.map((_, i) => vm.unmount(`/run/m/many-${i}`)));
    const [busy, ...rest] = results;
    expect(busy?.status === 'rejected' && isLcowError(busy.reason, GUEST_FAILURE_CODE)).toBe(true);
    expect(rest.map((r) => r.status)).toEqual(rest.map(() => 'fulfilled'));
    expect(await guestText(vm, ['cat', '/run/m/many-0/f0'])).toBe('0');
    expect((await vm.exec(['umount', '/run/m/many-0/sub'])).exitCode).toBe(0);
    await vm.unmount('/run/m/many-0');
    await Promise.all(disks.map((_, i) => vm.unplugScsi(i % 2, 10 + i)));
    await Promise.all(disks.map((_, i) => vm.removeScsiDisk(i % 2, 10 + i)));
    expect((await guestText(vm, ['cat', '/proc/mounts'])).includes('/run/m/many-')).toBe(false);
    expect((await guestText(vm, ['ls', '/sys/bus/scsi/devices'])).split('\n').filter((e) => /^\d+:0:0:1\d$/.test(e))).toEqual([]);
  });
});
