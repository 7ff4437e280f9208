/**
 * Boot files from the lcow.* options. With none of kirdpath/kernel/initrd/
 * vhdx given, the backend's own default boot is used (undefined here).
 * Names are resolved in lcow.kirdpath; absolute paths are taken as they are.
 * A named file that does not exist is EBADOPTION at open, naming the option.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { BootSpec } from '../backend/index.js';
import { LcowError } from '../errors.js';
import type { LcowOptions } from './options.js';

const DEFAULT_KERNEL = 'kernel';
const DEFAULT_INITRD = 'initrd.img';

interface Named {
  option: string;
  value: string;
  file: string;
}

function named(o: LcowOptions, option: string, value: string | undefined, fallback: string | undefined): Named | undefined {
  const v = value ?? (o.kirdPath !== undefined ? fallback : undefined);
  if (v === undefined) return undefined;
  if (path.isAbsolute(v)) return { option, value: v, file: v };
  if (o.kirdPath === undefined) {
    throw new LcowError('EBADOPTION', `option '${option}' names a relative file but lcow.kirdpath is not set`, { option, value: v });
  }
  return { option: value === undefined ? 'lcow.kirdpath' : option, value: value ?? o.kirdPath, file: path.resolve(o.kirdPath, v) };
}

/** The files the options name (kernel, initrd or vhdx), resolved; each must exist. */
async function check(files: Array<Named | undefined>): Promise<void> {
  for (const f of files) {
    if (!f) continue;
    try {
      if ((await fs.stat(f.file)).isFile()) continue;
    } catch {
      // fall through
    }
    throw new LcowError('EBADOPTION', `option '${f.option}': ${f.file} is not a readable file`, { option: f.option, value: f.value, file: f.file });
  }
}

/**
 * The boot spec the options ask for, or undefined for "the backend's default".
 * `defaultBoot` fills the parts the options leave out (e.g. only lcow.initrd given).
 */
export async function bootFromOptions(o: LcowOptions, defaultBoot: () => Promise<BootSpec>): Promise<BootSpec | undefined> {
  if (o.kirdPath === undefined && o.kernel === undefined && o.initrd === undefined && o.vhdx === undefined) return undefined;
  const kernel = named(o, 'lcow.kernel', o.kernel, DEFAULT_KERNEL);
  if (o.vhdx !== undefined) {
    const image = named(o, 'lcow.vhdx', o.vhdx, undefined)!;
    await check([kernel, image]);
    return { kind: 'rootfs-image', kernelPath: kernel?.file ?? (await defaultBoot()).kernelPath, imagePath: image.file };
  }
  const initrd = named(o, 'lcow.initrd', o.initrd, DEFAULT_INITRD);
  await check([kernel, initrd]);
  if (kernel && initrd) return { kind: 'kernel-initrd', kernelPath: kernel.file, initrdPath: initrd.file };
  const base = await defaultBoot();
  const baseInitrd = base.kind === 'kernel-initrd' ? base.initrdPath : undefined;
  const initrdPath = initrd?.file ?? baseInitrd;
  if (initrdPath === undefined)
    throw new LcowError('EBADOPTION', "option 'lcow.kernel' needs an initrd: set lcow.initrd", { option: 'lcow.kernel', value: o.kernel });
  return { kind: 'kernel-initrd', kernelPath: kernel?.file ?? base.kernelPath, initrdPath };
}

/** Check the named boot files at open, without asking a backend for its defaults. */
export async function checkBootOptions(o: LcowOptions): Promise<void> {
  await check([
    named(o, 'lcow.kernel', o.kernel, DEFAULT_KERNEL),
    o.vhdx !== undefined ? named(o, 'lcow.vhdx', o.vhdx, undefined) : named(o, 'lcow.initrd', o.initrd, DEFAULT_INITRD),
  ]);
}
