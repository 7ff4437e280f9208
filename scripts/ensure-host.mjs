#!/usr/bin/env node
// Installs the Debian packages this project needs on the host when they are
// missing (as root, non-interactively), else prints the exact apt-get line.
// Used by `npm test` (pretest) and `npm run demo`.
//
// docker.io is for the engine test (test/engine/): dockerd 20.10 driving the
// driver through its plugin server. The test runs private daemons; the
// packaged service must not start, so the install runs under a policy-rc.d
// that denies service starts (unless the machine has its own). Measured on
// bookworm: 66 MB fetched (2 s on a fast mirror), ~4 s to unpack.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';

/** @type {Array<[string, string]>} program that proves the package is there → Debian package */
const NEEDED = [
  ['/usr/bin/qemu-system-x86_64', 'qemu-system-x86'],
  ['/usr/bin/qemu-img', 'qemu-utils'],
  ['/usr/sbin/qemu-ga', 'qemu-guest-agent'],
  ['/bin/busybox', 'busybox-static'],
  ['/sbin/e2fsck', 'e2fsprogs'],
  ['/sbin/debugfs', 'e2fsprogs'],
  ['/sbin/veritysetup', 'cryptsetup-bin'],
  ['/sbin/depmod', 'kmod'],
  ['/usr/bin/cpio', 'cpio'],
  ['/usr/bin/zstd', 'zstd'],
  ['/usr/sbin/dockerd', 'docker.io'],
  ['/usr/bin/docker', 'docker.io'],
];

const missing = [...new Set(NEEDED.filter(([file]) => !existsSync(file) && !existsSync(file.replace(/^\/(s?bin)/, '/usr/$1'))).map(([, pkg]) => pkg))];
if (missing.length === 0) process.exit(0);

const line = `apt-get update && apt-get install -y ${missing.join(' ')}`;
if (process.getuid?.() !== 0) {
  console.error(`lcow-uvm needs these Debian packages: ${missing.join(' ')}\nRun as root: ${line}`);
  process.exit(1);
}
console.error(`lcow-uvm: installing ${missing.join(' ')} …`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
/** @param {string[]} args @returns {boolean} */
const run = (args) => {
  const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) console.error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
  return r.status === 0;
};
const POLICY = '/usr/sbin/policy-rc.d';
const denyStarts = missing.includes('docker.io') && !existsSync(POLICY);
if (denyStarts) writeFileSync(POLICY, '#!/bin/sh\n# lcow-uvm ensure-host: no service starts while packages install\nexit 101\n', { mode: 0o755 });
const started = Date.now();
const ok = run(['update', '-q']) && run(['install', '-y', '-q', '--no-install-recommends', ...missing]);
if (denyStarts) rmSync(POLICY, { force: true });
if (!ok) process.exit(1);
console.error(`lcow-uvm: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
