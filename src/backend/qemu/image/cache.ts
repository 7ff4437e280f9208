/**
 * Where built guest images live: `$LCOW_UVM_CACHE` or ~/.cache/lcow-uvm,
 * one folder per input hash (`guest-<hash>/`, `guest-gcs-<hash>/` for the
 * variant with hcsshim's GCS), each holding vmlinuz,
 * initrd.img and manifest.json. A folder only appears by an atomic rename of
 * a finished build, so its presence means it is complete.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

export interface GuestImageManifest {
  format: number;
  hash: string;
  kernelPackage: string;
  kernelPackageVersion: string;
  /** `uname -r` of the guest kernel. */
  kernelRelease: string;
  busyboxVersion: string;
  qemuGaVersion: string;
  /** Absent in images built before runc was added. */
  runcVersion?: string;
  modules: string[];
  /** The gcs variant: the sha256 of the GCS binary it holds at /bin/gcs. */
  gcsSha256?: string;
  builtAt: string;
}

export interface GuestImage {
  dir: string;
  kernelPath: string;
  initrdPath: string;
  manifestPath: string;
  manifest: GuestImageManifest;
}

export function cacheRoot(): string {
  return process.env.LCOW_UVM_CACHE || path.join(homedir(), '.cache', 'lcow-uvm');
}

/** `guest-<hash>`, or `guest-gcs-<hash>` for the gcs variant (beside the default, so both stay cached). */
export function imageDir(hash: string, root = cacheRoot(), variant: 'default' | 'gcs' = 'default'): string {
  return path.join(root, variant === 'gcs' ? `guest-gcs-${hash}` : `guest-${hash}`);
}

export function imagePaths(dir: string): Omit<GuestImage, 'manifest'> {
  return {
    dir,
    kernelPath: path.join(dir, 'vmlinuz'),
    initrdPath: path.join(dir, 'initrd.img'),
    manifestPath: path.join(dir, 'manifest.json'),
  };
}

/** The finished image in `dir`, or undefined when there is none. */
export async function readImage(dir: string): Promise<GuestImage | undefined> {
  const paths = imagePaths(dir);
  try {
    const manifest = JSON.parse(await readFile(paths.manifestPath, 'utf8')) as GuestImageManifest;
    return { ...paths, manifest };
  } catch {
    return undefined;
  }
}
