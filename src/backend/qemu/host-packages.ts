/**
 * Debian packages the QEMU backend needs on the host. When one is missing:
 * as root, install it non-interactively (apt-get update first, since a fresh
 * container has no package lists); otherwise fail with EHOSTDEPS carrying the
 * exact command to run.
 */
import { existsSync } from 'node:fs';
import { LcowError } from '../../errors.js';
import { runHostCommand } from './host-command.js';

export interface HostPackage {
  /** A file whose presence proves the package is installed (usr-merged paths are tried too). */
  proof: string;
  name: string;
}

/** What building the guest image and running QEMU VMs needs. */
export const QEMU_HOST_PACKAGES: readonly HostPackage[] = [
  { proof: '/usr/bin/qemu-system-x86_64', name: 'qemu-system-x86' },
  { proof: '/usr/bin/qemu-img', name: 'qemu-utils' },
  { proof: '/usr/sbin/qemu-ga', name: 'qemu-guest-agent' },
  { proof: '/usr/sbin/runc', name: 'runc' },
  { proof: '/bin/busybox', name: 'busybox-static' },
  { proof: '/sbin/depmod', name: 'kmod' },
  { proof: '/usr/bin/cpio', name: 'cpio' },
  { proof: '/usr/bin/zstd', name: 'zstd' },
];

function present(file: string): boolean {
  return existsSync(file) || existsSync(file.replace(/^\/(s?bin)\//, '/usr/$1/'));
}

export function missingPackages(packages: readonly HostPackage[]): string[] {
  return packages.filter((p) => !present(p.proof)).map((p) => p.name);
}

export function aptInstallLine(names: readonly string[]): string {
  return `apt-get update && apt-get install -y --no-install-recommends ${names.join(' ')}`;
}

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };

export async function aptUpdate(): Promise<void> {
  await runHostCommand('apt-get', ['update', '-q'], { env: APT_ENV, packageName: 'apt' });
}

/** Install what is missing (root), or throw EHOSTDEPS with the command line. */
export async function ensureHostPackages(packages: readonly HostPackage[] = QEMU_HOST_PACKAGES): Promise<void> {
  const missing = missingPackages(packages);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new LcowError('EHOSTDEPS', `missing Debian packages ${missing.join(', ')}; run as root: ${aptInstallLine(missing)}`, {
      packages: missing,
      command: aptInstallLine(missing),
    });
  }
  await aptUpdate();
  await runHostCommand('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env: APT_ENV, packageName: 'apt' });
  const still = missingPackages(packages);
  if (still.length > 0) {
    throw new LcowError('EHOSTDEPS', `apt-get did not provide ${still.join(', ')}`, { packages: still, command: aptInstallLine(still) });
  }
}
