#!/usr/bin/env node
// Installs the Debian packages this project needs on the host when they are
// missing (as root, non-interactively), else prints the exact apt-get line.
// Used by `npm test` (pretest) and `npm run demo`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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
];

const missing = NEEDED.filter(([file]) => !existsSync(file) && !existsSync(file.replace(/^\/(s?bin)/, '/usr/$1'))).map(([, pkg]) => pkg);
if (missing.length === 0) process.exit(0);

const line = `apt-get update && apt-get install -y ${missing.join(' ')}`;
if (process.getuid?.() !== 0) {
  console.error(`lcow-uvm needs these Debian packages: ${missing.join(' ')}\nRun as root: ${line}`);
  process.exit(1);
}
console.error(`lcow-uvm: installing ${missing.join(' ')} …`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
/** @param {string[]} args */
const run = (args) => {
  const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) {
    console.error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
    process.exit(1);
  }
};
run(['update', '-q']);
run(['install', '-y', '-q', '--no-install-recommends', ...missing]);
