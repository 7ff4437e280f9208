// Real QEMU: the 'auto' accelerator probe on this host. Whatever the verdict
// (here /dev/kvm exists but KVM guests hang, so TCG after the 10 s limit),
// the probe VM is gone afterwards and the verdict is remembered for the next
// backend without probing again.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QemuBackend, ensureGuestImage } from '../../../src/backend/qemu/index.js';

const memoDir = mkdtempSync(path.join(tmpdir(), 'lcow-accel-vm-'));
const savedCache = process.env.LCOW_UVM_CACHE;
const savedAccel = process.env.LCOW_QEMU_ACCEL;
afterAll(() => {
  if (savedCache === undefined) delete process.env.LCOW_UVM_CACHE;
  else process.env.LCOW_UVM_CACHE = savedCache;
  if (savedAccel !== undefined) process.env.LCOW_QEMU_ACCEL = savedAccel;
  rmSync(memoDir, { recursive: true, force: true });
});

function probeVmsRunning(): string[] {
  try {
    return execFileSync('pgrep', ['-af', `accel-probe-${process.pid}`], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('qemu'));
  } catch {
    return []; // pgrep: no match
  }
}

describe('accelerator probe (real QEMU)', () => {
  it('decides, cleans up, and remembers', async () => {
    const image = await ensureGuestImage();
    const boot = { kernelPath: image.kernelPath, initrdPath: image.initrdPath };
    delete process.env.LCOW_QEMU_ACCEL;
    process.env.LCOW_UVM_CACHE = memoDir; // a fresh memo folder (the image was found above)

    const accel = await new QemuBackend().accel(boot);
    expect(['kvm', 'tcg']).toContain(accel);
    expect(probeVmsRunning()).toEqual([]);
    const memoFile = path.join(memoDir, 'accel.json');
    if (existsSync('/dev/kvm')) {
      const memo = JSON.parse(readFileSync(memoFile, 'utf8')) as { key: string; verdict: { accel: string } };
      expect(memo.verdict.accel).toBe(accel);
      // A second backend answers from the memo, not from a new probe: plant the
      // opposite verdict under the same key, and that is what comes back.
      const planted = accel === 'kvm' ? 'tcg' : 'kvm';
      writeFileSync(memoFile, JSON.stringify({ key: memo.key, verdict: { accel: planted, reason: 'planted by the test' } }));
      expect(await new QemuBackend().accel(boot)).toBe(planted);
      expect(probeVmsRunning()).toEqual([]);
    }
    // An explicit accelerator is taken as given, without a probe.
    expect(await new QemuBackend({ accel: 'tcg' }).accel(boot)).toBe('tcg');
  }, 120_000);
});
