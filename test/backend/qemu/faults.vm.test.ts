// Real VM: the QEMU process dies (SIGKILL from outside) while calls are in
// flight. Every pending call must reject EVMSTOPPED — an exec with no time
// limit would otherwise hang this test forever — the state must be
// 'stopped', waitExit must say 'killed', and nothing may be left behind.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import { bootTestVm, makeExt4Disk, tempDir } from '../../helpers/vm.js';

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

describe('qemu backend when the QEMU process is killed', () => {
  it('rejects a pending exec and a pending addScsiDisk with EVMSTOPPED and cleans up', async () => {
    const { dir, cleanup } = await tempDir();
    const vm = await bootTestVm();
    const pid = vm.pid as number;
    const runDir = vm.runtimeDir as string;
    expect(existsSync(runDir)).toBe(true);
    const disk = await makeExt4Disk({}, { dir });

    // an exec that never ends on its own, already running in the guest
    const marker = '/tmp/started';
    const pendingExec = vm.exec(['/bin/sh', '-c', 'touch "$1"; exec sleep 100000', 'sh', marker]).catch((e: unknown) => e);
    while ((await vm.exec(['test', '-e', marker])).exitCode !== 0);
    const pendingAdd = vm.addScsiDisk(0, 0, { hostPath: disk, readOnly: true }).catch((e: unknown) => e);
    const queued = vm.exec(['/bin/true']).catch((e: unknown) => e);
    process.kill(pid, 'SIGKILL');

    for (const err of await Promise.all([pendingExec, pendingAdd, queued])) {
      expect(isLcowError(err, 'EVMSTOPPED')).toBe(true);
    }
    expect(vm.state).toBe('stopped');
    expect(await vm.waitExit()).toMatchObject({ reason: 'killed' });
    expect(existsSync(runDir)).toBe(false);
    expect(processGone(pid)).toBe(true);
    expect((await vm.properties()).pid).toBeUndefined();

    const later = await vm.mountScsi({ controller: 0, lun: 0, guestPath: '/x', readOnly: true }).catch((e: unknown) => e);
    expect(isLcowError(later, 'EVMSTOPPED')).toBe(true);
    await vm.terminate(); // still fine: already stopped
    await cleanup();
  });

  it('a VM whose guest powers itself off reports "exited"', async () => {
    const vm = await bootTestVm();
    const pid = vm.pid as number;
    const err = await vm.exec(['poweroff', '-f']).catch((e: unknown) => e);
    // either the request raced the exit or it came back first; both are fine
    if (err instanceof Error) expect(isLcowError(err, 'EVMSTOPPED')).toBe(true);
    expect(await vm.waitExit()).toMatchObject({ reason: 'exited' });
    expect(vm.state).toBe('stopped');
    expect(processGone(pid)).toBe(true);
  });

  it('fails start with EVMSTART when QEMU cannot run, leaving nothing behind', async () => {
    const vm = await bootTestVm({}, { qemuBinary: '/nonexistent/qemu' }).catch((e: unknown) => e);
    expect(isLcowError(vm, 'EVMSTART')).toBe(true);
  });
});
