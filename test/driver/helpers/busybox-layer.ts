// A small bootable-userland layer: the host's static busybox as /bin/busybox
// plus applet symlinks — enough for a container process `/bin/sh -c …` in a VM.
import { readFileSync } from 'node:fs';
import type { Item } from './layers.js';

export const HOST_BUSYBOX = '/bin/busybox';
export const APPLETS = ['sh', 'echo', 'cat', 'ls', 'df', 'id', 'uname', 'true', 'false', 'env', 'mkdir', 'rm', 'stat'];

export function busyboxItems(): Item[] {
  return [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: readFileSync(HOST_BUSYBOX), mode: 0o755 },
    ...APPLETS.map((a): Item => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/os-release', data: 'NAME=lcow-test\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ];
}
