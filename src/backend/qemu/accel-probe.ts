/**
 * Choosing QEMU's accelerator when none is given ('auto').
 *
 * KVM is 10–50× faster than TCG, but "/dev/kvm exists" does not mean it
 * works: on hosts without nested virtualisation the device opens fine and a
 * VM started with it hangs at boot, forever. So KVM is chosen only after a
 * tiny VM really booted with it, to the guest agent, within a time limit
 * (under working KVM that takes well under a second); anything else — no
 * usable /dev/kvm, a QEMU error, the time limit — means TCG, which always
 * works.
 *
 * The verdict is remembered in the cache folder for this boot of the host
 * (/proc/sys/kernel/random/boot_id) and this QEMU binary, so only the first
 * VM after a host reboot pays for the probe — at most the time limit, on a
 * host where KVM hangs.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { fileIdentity } from './file-identity.js';
import { readMemo, writeMemo } from './memo-file.js';

export type Accel = 'kvm' | 'tcg';

export interface AccelVerdict {
  accel: Accel;
  /** Why, in words (logged, and kept in the memo). */
  reason: string;
}

export interface AccelProbeDeps {
  /** Where the verdict is remembered. */
  memoFile: string;
  /** What the verdict depends on besides the boot id (the QEMU binary, say). */
  context: string;
  /** Boot a throw-away VM with KVM; true when it reached its guest agent in time. */
  tryKvm(): Promise<boolean>;
  /** Default: /dev/kvm readable and writable. */
  kvmDeviceUsable?(): Promise<boolean>;
  /** Default: /proc/sys/kernel/random/boot_id ('' when unreadable: then nothing is remembered). */
  bootId?(): Promise<string>;
}

async function defaultKvmDeviceUsable(): Promise<boolean> {
  return access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
}

async function defaultBootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
}

/** The context string for a QEMU binary: its path and file identity, so an upgraded QEMU is probed again. */
export async function qemuContext(binary: string): Promise<string> {
  return `${binary}@${await fileIdentity(binary)}`;
}

export async function chooseAccel(deps: AccelProbeDeps): Promise<AccelVerdict> {
  if (!(await (deps.kvmDeviceUsable ?? defaultKvmDeviceUsable)())) return { accel: 'tcg', reason: '/dev/kvm is missing or not usable' };
  const bootId = await (deps.bootId ?? defaultBootId)();
  const key = `${bootId}|${deps.context}`;
  if (bootId) {
    const memo = await readMemo<{ key: string; verdict: AccelVerdict }>(deps.memoFile);
    if (memo?.key === key && (memo.verdict?.accel === 'kvm' || memo.verdict?.accel === 'tcg')) return memo.verdict;
  }
  const ok = await deps.tryKvm().catch(() => false);
  const verdict: AccelVerdict = ok
    ? { accel: 'kvm', reason: 'a probe VM booted with KVM' }
    : { accel: 'tcg', reason: 'a probe VM did not boot with KVM in time' };
  if (bootId) await writeMemo(deps.memoFile, { key, verdict });
  return verdict;
}
