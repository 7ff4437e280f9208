/**
 * Paths a caller gives a layer handle ('/etc/passwd', 'etc/passwd') are
 * resolved lexically inside the rootfs: `..` may not climb above the root.
 * Symlinks inside the rootfs are checked in the guest (guest-fs.ts), where
 * they can be resolved.
 */
import path from 'node:path';
import { LcowError } from '../errors.js';

/** The clean absolute path inside the container ('/' for the root). */
export function containerPath(p: string): string {
  if (typeof p !== 'string' || p.includes('\0')) throw new LcowError('EINVAL', `bad path ${JSON.stringify(p)}`, { path: p });
  const parts: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) throw new LcowError('EINVAL', `path ${JSON.stringify(p)} escapes the container root`, { path: p });
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return '/' + parts.join('/');
}

/** The guest path of a container path under a rootfs mounted at `rootfs`. */
export function guestPathIn(rootfs: string, p: string): string {
  const inner = containerPath(p);
  return inner === '/' ? rootfs : path.posix.join(rootfs, inner);
}
