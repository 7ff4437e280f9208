/**
 * Build (or find cached) the QEMU guest image: a Debian cloud kernel and an
 * initrd holding busybox, qemu-ga and runc with their libraries, the kernel
 * modules the backend's virtual hardware needs, and the project's /init.
 *
 * The kernel package is downloaded and unpacked into a temporary folder — it
 * is never installed on the host. The result is written to a temporary folder
 * beside the cache entry and renamed into place, so a half-built image is
 * never visible and two concurrent builders both end with a complete one.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LcowError } from '../../../errors.js';
import { componentLogger, type Logger } from '../../../log.js';
import { runHostCommand } from '../host-command.js';
import { ensureHostPackages } from '../host-packages.js';
import { cacheRoot, imageDir, imagePaths, readImage, type GuestImage, type GuestImageManifest } from './cache.js';
import { BUILDER_FORMAT, hashInputs, resolveImageInputs, type GcsImageInputs, type ImageInputs } from './inputs.js';
import { scsiControllerAddresses } from '../qemu-args.js';
import { sharedLibraries } from './ldd.js';
import { moduleClosure, parseModulesBuiltin, parseModulesDep } from './modules.js';

export interface BuildOptions {
  /** Rebuild even when a cached image with the same inputs exists. */
  force?: boolean;
  /**
   * Build the gcs variant: this static hcsshim GCS binary at /bin/gcs, the
   * init hook that starts it on the `gcs.bridge` port, and dm_mod (see
   * inputs.ts). Never fetched or built here: the caller names a binary.
   */
  gcsBinary?: string;
  /** Cache root (default $LCOW_UVM_CACHE or ~/.cache/lcow-uvm). */
  cacheDir?: string;
  logger?: Logger;
}

export interface BuildResult extends GuestImage {
  /** False when the cached image was used. */
  built: boolean;
}

const BUSYBOX = '/bin/busybox';
const QEMU_GA = '/usr/sbin/qemu-ga';
/** Container processes run under it, as in a real LCOW guest (driver/container-run.ts). */
const RUNC = '/usr/sbin/runc';

export async function ensureGuestImage(options: BuildOptions = {}): Promise<BuildResult> {
  const log = componentLogger(options.logger, 'qemu-image');
  await ensureHostPackages();
  const inputs = await resolveImageInputs(options.gcsBinary === undefined ? {} : { gcsBinary: options.gcsBinary, scsiControllers: scsiControllerAddresses() });
  const hash = hashInputs(inputs);
  const root = options.cacheDir ?? cacheRoot();
  const dir = imageDir(hash, root, inputs.gcs ? 'gcs' : 'default');
  if (!options.force) {
    const cached = await readImage(dir);
    if (cached) return { ...cached, built: false };
  }
  log.info({ hash, kernel: inputs.kernelPackage, gcs: inputs.gcs?.binaryPath }, 'building guest image');
  await mkdir(root, { recursive: true });
  const out = await mkdtemp(path.join(root, `.guest-${hash}.tmp-`));
  const work = await mkdtemp(path.join(os.tmpdir(), 'lcow-image-'));
  try {
    const manifest = await buildInto(out, work, inputs, hash);
    // readable by other users of a shared cache; mkdtemp made it 0700
    await chmod(out, 0o755);
    await publish(out, dir, options.force === true);
    const image = await readImage(dir);
    if (!image) throw new LcowError('EIO', `guest image at ${dir} vanished after publishing`, { dir });
    log.info({ dir, kernelRelease: manifest.kernelRelease }, 'guest image ready');
    return { ...image, built: true };
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
}

/** Rename the finished folder into place; if another builder won the race, keep theirs. */
async function publish(out: string, dir: string, replace: boolean): Promise<void> {
  if (replace) {
    const old = `${dir}.old-${process.pid}-${Date.now()}`;
    await rename(dir, old).catch(() => undefined);
    await rm(old, { recursive: true, force: true });
  }
  try {
    await rename(out, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await readImage(dir))) return;
    throw new LcowError('EIO', `cannot publish guest image to ${dir}`, { dir }, { cause: err });
  }
}

async function buildInto(out: string, work: string, inputs: ImageInputs, hash: string): Promise<GuestImageManifest> {
  // 1. kernel package, unpacked (not installed)
  await runHostCommand('apt-get', ['download', `${inputs.kernelPackage}=${inputs.kernelPackageVersion}`], { cwd: work, packageName: 'apt' });
  const deb = (await readdir(work)).find((f) => f.endsWith('.deb'));
  if (!deb) throw new LcowError('EHOSTDEPS', `apt-get download ${inputs.kernelPackage} produced no .deb`, { package: inputs.kernelPackage });
  const kroot = path.join(work, 'kernel');
  await runHostCommand('dpkg-deb', ['-x', path.join(work, deb), kroot], { packageName: 'dpkg' });
  const { modBase, release } = await findModules(kroot);
  const bootDir = path.join(kroot, 'boot');
  const vmlinuz = (await readdir(bootDir)).find((f) => f === `vmlinuz-${release}`);
  if (!vmlinuz) throw new LcowError('EBADIMAGE', `kernel package has no boot/vmlinuz-${release}`, { package: inputs.kernelPackage });
  await copyFile(path.join(bootDir, vmlinuz), path.join(out, 'vmlinuz'));

  // 2. initrd tree
  const staging = path.join(work, 'initrd');
  for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'etc', 'bin', 'sbin', 'usr/bin', 'usr/sbin', 'var', 'mnt', 'root']) {
    await mkdir(path.join(staging, d), { recursive: true });
  }
  await symlink('/run', path.join(staging, 'var/run'));
  await copyModules(modBase, release, inputs.modules, staging);
  await installBusybox(staging);
  await installProgram(QEMU_GA, staging);
  await installProgram(RUNC, staging);
  await writeFile(path.join(staging, 'init'), inputs.initScript, { mode: 0o755 });
  await writeFile(path.join(staging, 'etc/lcow-modules'), inputs.modules.join('\n') + '\n');
  await writeFile(path.join(staging, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(path.join(staging, 'etc/group'), 'root:x:0:\n');
  if (inputs.gcs) await installGcs(inputs.gcs, staging);
  await packInitrd(staging, path.join(out, 'initrd.img'));

  const manifest: GuestImageManifest = {
    format: BUILDER_FORMAT,
    hash,
    kernelPackage: inputs.kernelPackage,
    kernelPackageVersion: inputs.kernelPackageVersion,
    kernelRelease: release,
    busyboxVersion: inputs.busyboxVersion,
    qemuGaVersion: inputs.qemuGaVersion,
    runcVersion: inputs.runcVersion,
    modules: [...inputs.modules],
    ...(inputs.gcs ? { gcsSha256: inputs.gcs.binarySha256 } : {}),
    builtAt: new Date().toISOString(),
  };
  await writeFile(imagePaths(out).manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** The GCS binary, its init hook and the controller table the hook's vmbus shim reads. */
async function installGcs(gcs: GcsImageInputs, staging: string): Promise<void> {
  await copyFile(gcs.binaryPath, path.join(staging, 'bin/gcs'));
  await chmod(path.join(staging, 'bin/gcs'), 0o755);
  await mkdir(path.join(staging, 'etc/lcow-init.d'), { recursive: true });
  await writeFile(path.join(staging, 'etc/lcow-init.d/gcs.sh'), gcs.initHook, { mode: 0o644 });
  await mkdir(path.join(staging, 'etc/lcow-gcs'), { recursive: true });
  await writeFile(path.join(staging, 'etc/lcow-gcs/scsi-controllers'), gcs.scsiControllers);
}

/** Kernel packages put modules in lib/modules (bookworm) or usr/lib/modules (usr-merged later releases). */
async function findModules(kroot: string): Promise<{ modBase: string; release: string }> {
  for (const base of [kroot, path.join(kroot, 'usr')]) {
    const entries = await readdir(path.join(base, 'lib/modules')).catch(() => [] as string[]);
    const [release, ...more] = entries;
    if (release !== undefined && more.length === 0) return { modBase: base, release };
  }
  throw new LcowError('EBADIMAGE', 'kernel package has no single lib/modules/<release> folder', { kroot });
}

async function copyModules(modBase: string, release: string, wanted: readonly string[], staging: string): Promise<void> {
  const srcDir = path.join(modBase, 'lib/modules', release);
  // The package ships no modules.dep (its postinst makes it); make one for our lookup.
  await runHostCommand('depmod', ['-b', modBase, release], { packageName: 'kmod' });
  const index = parseModulesDep(await readFile(path.join(srcDir, 'modules.dep'), 'utf8'));
  const builtin = parseModulesBuiltin(await readFile(path.join(srcDir, 'modules.builtin'), 'utf8').catch(() => ''));
  const { files, missing } = moduleClosure(index, wanted, builtin);
  if (missing.length > 0) throw new LcowError('EBADIMAGE', `kernel ${release} lacks modules ${missing.join(', ')}`, { release, missing });
  const dstDir = path.join(staging, 'lib/modules', release);
  for (const rel of files) {
    await mkdir(path.dirname(path.join(dstDir, rel)), { recursive: true });
    await copyFile(path.join(srcDir, rel), path.join(dstDir, rel));
  }
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
    await copyFile(path.join(srcDir, f), path.join(dstDir, f)).catch(() => undefined);
  }
  await runHostCommand('depmod', ['-b', staging, release], { packageName: 'kmod' });
}

async function installBusybox(staging: string): Promise<void> {
  const real = await realpath(BUSYBOX);
  await copyFile(real, path.join(staging, 'bin/busybox'));
  await chmod(path.join(staging, 'bin/busybox'), 0o755);
  const { stdout } = await runHostCommand(real, ['--list-full'], { packageName: 'busybox-static' });
  for (const rel of stdout
    .toString()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const link = path.join(staging, rel);
    await mkdir(path.dirname(link), { recursive: true });
    await symlink('/bin/busybox', link).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    });
  }
}

/** Copy a dynamically linked program and every library it loads, at the same absolute paths. */
async function installProgram(program: string, staging: string): Promise<void> {
  for (const file of [program, ...(await sharedLibraries(program))]) {
    const dst = path.join(staging, file);
    await mkdir(path.dirname(dst), { recursive: true });
    await copyFile(await realpath(file), dst);
    await chmod(dst, (await stat(file)).mode & 0o777);
  }
}

async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

/** newc cpio (owned by root) compressed with zstd, which the Debian kernel unpacks (CONFIG_RD_ZSTD). */
async function packInitrd(staging: string, dest: string): Promise<void> {
  const entries = await listTree(staging);
  await new Promise<void>((resolve, reject) => {
    const cpio = spawn('cpio', ['--quiet', '-o', '-H', 'newc', '-R', '0:0', '-0'], { cwd: staging, stdio: ['pipe', 'pipe', 'pipe'] });
    const zstd = spawn('zstd', ['-q', '-9', '--no-check', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const file = createWriteStream(dest);
    let pending = 3;
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      cpio.kill();
      zstd.kill();
      reject(err instanceof LcowError ? err : new LcowError('EIO', `packing the initrd failed: ${String(err)}`, { dest }, { cause: err }));
    };
    const done = (): void => {
      if (--pending === 0 && !failed) resolve();
    };
    const stderr: string[] = [];
    cpio.stderr.on('data', (b: Buffer) => stderr.push(b.toString()));
    zstd.stderr.on('data', (b: Buffer) => stderr.push(b.toString()));
    for (const [name, child] of [
      ['cpio', cpio],
      ['zstd', zstd],
    ] as const) {
      child.on('error', (e) =>
        fail(new LcowError('EHOSTDEPS', `${name} not runnable: ${e.message}; apt-get install -y ${name}`, { program: name }, { cause: e })),
      );
      child.on('close', (code) => (code === 0 ? done() : fail(new Error(`${name} exited ${code}: ${stderr.join('')}`))));
    }
    cpio.stdout.pipe(zstd.stdin);
    zstd.stdout.pipe(file);
    file.on('error', fail);
    file.on('finish', done);
    cpio.stdin.end(entries.join('\0') + '\0');
  });
}
