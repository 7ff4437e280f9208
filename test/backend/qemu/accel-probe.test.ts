// Choosing the accelerator: KVM only after a probe VM really booted with it;
// the verdict remembered per host boot and QEMU binary; no usable /dev/kvm
// or a failed probe means TCG.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseAccel, type AccelProbeDeps } from '../../../src/backend/qemu/accel-probe.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lcow-accel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function deps(over: Partial<AccelProbeDeps> & { boots?: boolean | 'throws' } = {}): AccelProbeDeps & { probes: number } {
  const d = {
    probes: 0,
    memoFile: path.join(dir, `accel-${n++}.json`),
    context: '/usr/bin/qemu-system-x86_64@1',
    kvmDeviceUsable: async () => true,
    bootId: async () => 'boot-1',
    async tryKvm() {
      d.probes++;
      if (over.boots === 'throws') throw new Error('qemu: could not access KVM kernel module');
      return over.boots ?? true;
    },
    ...over,
  };
  if (over.tryKvm) d.tryKvm = over.tryKvm;
  return d;
}

describe('chooseAccel', () => {
  it('no usable /dev/kvm: TCG without a probe', async () => {
    const d = deps({ kvmDeviceUsable: async () => false });
    expect(await chooseAccel(d)).toMatchObject({ accel: 'tcg' });
    expect(d.probes).toBe(0);
  });

  it('a probe that boots: KVM, remembered for this boot id and binary', async () => {
    const d = deps({ boots: true });
    expect(await chooseAccel(d)).toMatchObject({ accel: 'kvm' });
    expect(await chooseAccel(d)).toMatchObject({ accel: 'kvm' });
    expect(d.probes).toBe(1);
    expect(JSON.parse(readFileSync(d.memoFile, 'utf8'))).toMatchObject({ key: 'boot-1|/usr/bin/qemu-system-x86_64@1', verdict: { accel: 'kvm' } });
    // after a reboot, or with another QEMU, the probe runs again
    expect(await chooseAccel({ ...d, bootId: async () => 'boot-2' })).toMatchObject({ accel: 'kvm' });
    expect(await chooseAccel({ ...d, context: '/usr/bin/qemu-system-x86_64@2' })).toMatchObject({ accel: 'kvm' });
    expect(d.probes).toBe(3);
  });

  it('a probe that hangs or fails: TCG, remembered too', async () => {
    for (const boots of [false, 'throws'] as const) {
      const d = deps({ boots });
      expect(await chooseAccel(d)).toMatchObject({ accel: 'tcg', reason: expect.stringMatching(/did not boot/) });
      expect(await chooseAccel(d)).toMatchObject({ accel: 'tcg' });
      expect(d.probes).toBe(1);
    }
  });

  it('without a boot id nothing is remembered (every process probes)', async () => {
    const d = deps({ bootId: async () => '' });
    await chooseAccel(d);
    await chooseAccel(d);
    expect(d.probes).toBe(2);
  });
});
