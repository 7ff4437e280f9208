/**
 * What goes into the guest image, and the hash that names its cache folder.
 * The image is rebuilt only when one of these changes: the init script, the
 * module list, the kernel package version, or the busybox / qemu-ga / runc
 * package versions copied from the host (plus BUILDER_FORMAT for layout changes).
 * The gcs variant adds a GCS binary (by the sha256 of its bytes, not its
 * path), the init hook that starts it, and the modules it needs.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LcowError } from '../../../errors.js';
import { runHostCommand } from '../host-command.js';
import { aptUpdate } from '../host-packages.js';
import { aptStateKey, memoisedAptAnswer } from './apt-memo.js';
import { cacheRoot } from './cache.js';

/** Bump when the builder lays the image out differently. */
export const BUILDER_FORMAT = 1;

/** The metapackage whose Depends names the current cloud kernel. */
export const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

/**
 * Modules loaded by /init, in order (dependencies come from modules.dep).
 * ext4 is built into the cloud kernel; everything the backend's virtual
 * hardware needs is a module there.
 */
export const GUEST_MODULES: readonly string[] = ['virtio_pci', 'virtio_console', 'virtio_scsi', 'sd_mod', 'virtio_pmem', 'nd_pmem', 'overlay'];

export const INIT_SCRIPT_PATH = fileURLToPath(new URL('./init.sh', import.meta.url));

/** The gcs variant's init hook (sourced by init.sh from /etc/lcow-init.d/). */
export const GCS_INIT_HOOK_PATH = fileURLToPath(new URL('./gcs-init.sh', import.meta.url));

/**
 * What the gcs variant loads besides GUEST_MODULES: dm_mod, because the GCS
 * mounts a mapped VPMEM layer through a dm-linear device over part of
 * /dev/pmemN; the virtio vsock transport, which it dials for process stdio
 * (used only where the host has /dev/vhost-vsock).
 */
export const GCS_EXTRA_MODULES: readonly string[] = ['dm_mod', 'vmw_vsock_virtio_transport'];

export interface GcsImageInputs {
  /** Where the binary is read from (not hashed: its bytes are). */
  binaryPath: string;
  binarySha256: string;
  initHook: string;
  /** "GUID PCI-address" per SCSI controller, for the /sys/bus/vmbus shim. */
  scsiControllers: string;
}

export interface ImageInputs {
  kernelPackage: string;
  kernelPackageVersion: string;
  busyboxVersion: string;
  qemuGaVersion: string;
  /** The OCI runtime that runs container processes in the guest (driver/container-run.ts). */
  runcVersion: string;
  modules: readonly string[];
  initScript: string;
  /** Present in the gcs variant only (absent, the hash is the default image's). */
  gcs?: GcsImageInputs;
}

async function installedVersion(pkg: string): Promise<string> {
  try {
    const { stdout } = await runHostCommand('dpkg-query', ['-W', '-f=${Version}', pkg], { packageName: 'dpkg' });
    const v = stdout.toString().trim();
    if (v) return v;
  } catch {
    // fall through to the typed error below
  }
  throw new LcowError('EHOSTDEPS', `Debian package ${pkg} is not installed; run as root: apt-get install -y ${pkg}`, { package: pkg });
}

/** `apt-cache depends` → "Depends: linux-image-6.1.0-NN-cloud-amd64". */
export function parseKernelDepends(aptCacheDepends: string): string | undefined {
  const m = /^\s*Depends:\s*(linux-image-[0-9][^\s]*-cloud-amd64)\s*$/m.exec(aptCacheDepends);
  return m?.[1];
}

/** `apt-cache show --no-all-versions` → "Version: …". */
export function parseVersionField(aptCacheShow: string): string | undefined {
  return /^Version:\s*(\S+)\s*$/m.exec(aptCacheShow)?.[1];
}

async function resolveKernelOnce(): Promise<{ name: string; version: string } | undefined> {
  try {
    const deps = await runHostCommand('apt-cache', ['depends', KERNEL_METAPACKAGE], { packageName: 'apt' });
    const name = parseKernelDepends(deps.stdout.toString());
    if (!name) return undefined;
    const show = await runHostCommand('apt-cache', ['show', '--no-all-versions', name], { packageName: 'apt' });
    const version = parseVersionField(show.stdout.toString());
    return version ? { name, version } : undefined;
  } catch {
    return undefined;
  }
}

/** resolveKernelOnce, remembered in the cache folder while apt's state is unchanged (see apt-memo.ts). */
async function resolveKernelMemoised(): Promise<{ name: string; version: string } | undefined> {
  return memoisedAptAnswer(path.join(cacheRoot(), 'kernel-package.json'), KERNEL_METAPACKAGE, await aptStateKey(), resolveKernelOnce);
}

/** The kernel package to download; runs `apt-get update` once (as root) when the lists lack it. */
export async function resolveKernelPackage(): Promise<{ name: string; version: string }> {
  const first = await resolveKernelMemoised();
  if (first) return first;
  if (process.getuid?.() === 0) {
    await aptUpdate();
    const second = await resolveKernelMemoised();
    if (second) return second;
  }
  throw new LcowError('EHOSTDEPS', `cannot resolve the kernel package from ${KERNEL_METAPACKAGE}; run as root: apt-get update`, {
    package: KERNEL_METAPACKAGE,
    command: 'apt-get update',
  });
}

export interface ImageVariant {
  /** A static hcsshim GCS binary to put in the image (the gcs variant). */
  gcsBinary?: string;
  /** For the vmbus shim: the GCS's SCSI controller GUIDs, by controller index, and each controller's PCI address. */
  scsiControllers?: readonly { guid: string; pci: string }[];
}

export async function resolveImageInputs(variant: ImageVariant = {}): Promise<ImageInputs> {
  const [kernel, busyboxVersion, qemuGaVersion, runcVersion, initScript, gcs] = await Promise.all([
    resolveKernelPackage(),
    installedVersion('busybox-static'),
    installedVersion('qemu-guest-agent'),
    installedVersion('runc'),
    readFile(INIT_SCRIPT_PATH, 'utf8'),
    variant.gcsBinary === undefined ? undefined : gcsInputs(variant.gcsBinary, variant.scsiControllers ?? []),
  ]);
  const base = { kernelPackage: kernel.name, kernelPackageVersion: kernel.version, busyboxVersion, qemuGaVersion, runcVersion, initScript };
  return gcs ? { ...base, modules: [...GUEST_MODULES, ...GCS_EXTRA_MODULES], gcs } : { ...base, modules: GUEST_MODULES };
}

async function gcsInputs(binaryPath: string, controllers: readonly { guid: string; pci: string }[]): Promise<GcsImageInputs> {
  const [binarySha256, initHook] = await Promise.all([sha256File(binaryPath), readFile(GCS_INIT_HOOK_PATH, 'utf8')]);
  return { binaryPath, binarySha256, initHook, scsiControllers: controllers.map((c) => `${c.guid} ${c.pci}\n`).join('') };
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  } catch (err) {
    throw new LcowError('ENOTFOUND', `cannot read the GCS binary ${file} (LCOW_GCS_BINARY / guest.gcsBinary)`, { path: file }, { cause: err });
  }
  return h.digest('hex');
}

export function hashInputs(inputs: ImageInputs): string {
  const { gcs, ...rest } = inputs;
  const h = createHash('sha256');
  // The default image's hash is unchanged by the variant's existence: `gcs` only joins when present.
  h.update(
    JSON.stringify({
      format: BUILDER_FORMAT,
      ...rest,
      ...(gcs ? { gcs: { sha256: gcs.binarySha256, initHook: gcs.initHook, scsiControllers: gcs.scsiControllers } } : {}),
    }),
  );
  return h.digest('hex').slice(0, 16);
}
