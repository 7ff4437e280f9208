/**
 * LCOW boot files, found the way moby's lcow.kirdpath and hcsshim do:
 * a folder (default `%ProgramFiles%\Linux Containers`) holding the kernel
 * (`kernel`, or `vmlinux` when present — hcsshim prefers it) and `initrd.img`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { LcowError } from '../../errors.js';
import type { BootSpec } from '../types.js';

export function defaultKirdPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.win32.join(env.ProgramFiles ?? 'C:\\Program Files', 'Linux Containers');
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

export interface BootFileNames {
  kernel?: string;
  initrd?: string;
}

/**
 * Kernel + initrd in `dir`. Explicit names (lcow.kernel / lcow.initrd) are
 * taken as given; otherwise vmlinux wins over kernel. `join` is the path
 * flavour of the folder (win32 on Windows; tests pass posix folders).
 */
export async function discoverBootFiles(
  dir: string,
  names: BootFileNames = {},
  join: (...p: string[]) => string = (...p) => path.join(...p),
): Promise<BootSpec> {
  const candidates = names.kernel ? [names.kernel] : ['vmlinux', 'kernel'];
  let kernelPath: string | undefined;
  for (const c of candidates) {
    if (await exists(join(dir, c))) {
      kernelPath = join(dir, c);
      break;
    }
  }
  const initrdPath = join(dir, names.initrd ?? 'initrd.img');
  if (!kernelPath || !(await exists(initrdPath))) {
    throw new LcowError('ENOTFOUND', `LCOW boot files not found in ${dir} (need ${candidates.join(' or ')} and ${names.initrd ?? 'initrd.img'})`, {
      kirdpath: dir,
      kernel: kernelPath ?? null,
    });
  }
  return { kind: 'kernel-initrd', kernelPath, initrdPath };
}
