// Real VM, real hcsshim GCS (LCOW_GCS_BINARY): what the bridge does that the
// uvm tests do not reach — mapped VPMEM (two ext4 images at two offsets of
// one pmem device, each mounted through MappingInfo), processes through the
// bridge (exit code, cwd, env, a program that cannot start, the exec time
// limit by kill -9), a request past its time limit that leaves the bridge
// serving, DumpStacks, and terminate by ShutdownForced.
import { open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QemuVm } from '../../../src/backend/qemu/index.js';
import { GCS_BINARY, bootTestVm, guestText, makeExt4Disk, tempDir } from '../../helpers/vm.js';

const MiB = 1 << 20;

describe.skipIf(!GCS_BINARY)('hcsshim GCS in a real VM (skipped: set LCOW_GCS_BINARY=/path/to/a static gcs to run)', () => {
  let vm: QemuVm;
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    // 2.5 s per request: under the GCS's own 5 s limit for finding a SCSI disk (see the time-limit test).
    vm = await bootTestVm({ vpmem: { count: 2, maxSizeBytes: 16 * MiB }, operationTimeoutMs: 2_500 }, { guest: { gcsBinary: GCS_BINARY! } });
  }, 600_000);

  afterAll(async () => {
    await vm?.terminate();
    await cleanup?.();
  });

  it('mapped VPMEM: one pmem device holding two ext4 images at two offsets, each mounted through MappingInfo, both readable, then removed', async () => {
    expect(vm.guestAgent).toBe('gcs');
    const a = await makeExt4Disk({ 'who.txt': 'image A\n' }, { dir, name: 'a.img', sizeMiB: 4 });
    const b = await makeExt4Disk({ 'who.txt': 'image B\n', 'sub/deep.txt': 'deep in B\n' }, { dir, name: 'b.img', sizeMiB: 6 });
    // One backing file: A at 0, B right after it (page-aligned; 10 MiB in all, a whole number of 2 MiB sections).
    const both = path.join(dir, 'both.img');
    const out = await open(both, 'w');
    const bOffset = (await stat(a)).size;
    await out.write(await readFile(a), 0, undefined, 0);
    await out.write(await readFile(b), 0, undefined, bOffset);
    await out.close();
    const bSize = (await stat(b)).size;
    expect([bOffset % 4096, (bOffset + bSize) % (2 * MiB)]).toEqual([0, 0]);

    expect(await vm.addVpmemDevice(0, { hostPath: both, format: 'raw' })).toEqual({ added: true });
    await vm.mountVpmem({ slot: 0, guestPath: '/run/m/a', mapping: { offsetBytes: 0, sizeBytes: bOffset } });
    await vm.mountVpmem({ slot: 0, guestPath: '/run/m/b', mapping: { offsetBytes: bOffset, sizeBytes: bSize } });
    expect(await guestText(vm, ['cat', '/run/m/a/who.txt', '/run/m/b/who.txt', '/run/m/b/sub/deep.txt'])).toBe('image A\nimage B\ndeep in B\n');
    // The GCS put a dm-linear device over each range (dm_mod is in the gcs image for this).
    const mounts = await guestText(vm, ['cat', '/proc/mounts']);
    expect(mounts).toMatch(/^\S*dm-linear-pmem\d+-0-\d+ \/run\/m\/a ext4 ro/m);
    expect(mounts).toMatch(new RegExp(`^\\S*dm-linear-pmem\\d+-${bOffset}-${bSize} /run/m/b ext4 ro`, 'm'));

    await vm.unmount('/run/m/a');
    await vm.unmount('/run/m/b');
    expect(await guestText(vm, ['cat', '/proc/mounts'])).not.toMatch(/\/run\/m\//);
    expect(await guestText(vm, ['ls', '/sys/block'])).not.toMatch(/^dm-/m); // the linear devices are gone too
    await vm.removeVpmemDevice(0);
    expect(await guestText(vm, ['ls', '/dev'])).not.toMatch(/^pmem/m);
  });

  it('runs processes through the bridge: exit code, cwd and the whole environment, a program that cannot start', async () => {
    expect((await vm.execViaGcs(['sh', '-c', 'exit 7'])).exitCode).toBe(7);
    // PATH is sent (the GCS passes none of its own); cwd and variables arrive as given.
    const env = await vm.execViaGcs(['sh', '-c', '[ "$PWD" = /tmp ] && [ "$GREETING" = "hi there" ] && [ -n "$PATH" ] && exit 5'], {
      cwd: '/tmp',
      env: { GREETING: 'hi there' },
    });
    expect(env.exitCode).toBe(5);
    const missing = await vm.execViaGcs(['/nonexistent']).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'EGCS', context: { name: 'E_FAIL', errorMessage: expect.stringContaining('no such file') } });
    // No vsock on this host: no stdio through the GCS.
    expect(await vm.execViaGcs(['cat'], { stdin: 'x' }).catch((e: unknown) => e)).toMatchObject({ code: 'EUNSUPPORTED' });
  });

  it('an exec past its time limit is killed by a second process (kill -9) and rejects ETIMEOUT', async () => {
    const err = await vm.execViaGcs(['sleep', '600'], { timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ETIMEOUT', context: { timeoutMs: 1_500 } });
    expect(await guestText(vm, ['ps'])).not.toMatch(/sleep 600/);
  });

  it('a request past its time limit is abandoned, its late answer is dropped, and the bridge keeps serving', async () => {
    // No disk at LUN 9: the GCS looks for /sys/bus/scsi/devices/N:0:0:9 for 5 s before it answers E_FAIL,
    // past this VM's 2.5 s request limit.
    const err = await vm.mountScsi({ controller: 0, lun: 9, guestPath: '/run/m/never', readOnly: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ETIMEOUT', context: { rpc: 'ModifySettings', resourceType: 'MappedVirtualDisk', timeoutMs: 2_500 } });
    await new Promise((r) => setTimeout(r, 3_500)); // the GCS's late answer arrives meanwhile
    expect((await vm.execViaGcs(['true'])).exitCode).toBe(0);
    expect(await vm.gcsDumpStacks()).toMatch(/goroutine \d+/);
  });

  it('terminate ends the VM with ShutdownForced', async () => {
    const t0 = Date.now();
    await vm.terminate();
    expect(await vm.waitExit()).toMatchObject({ reason: 'terminated' });
    expect(Date.now() - t0).toBeLessThan(5_000); // within the stop grace: no QMP quit, no kill
  });
});
