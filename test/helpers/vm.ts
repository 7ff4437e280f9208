/**
 * Helpers for tests that boot real QEMU VMs (files named *.vm.test.ts).
 *
 *   const vm = await bootTestVm({ vpmem: { count: 2, maxSizeBytes: 64 << 20 } });
 *   const disk = await makeExt4Disk({ 'hello.txt': 'hi' });
 *   …
 *   await vm.terminate();
 *
 * The guest image is built once by test/global-setup.ts; here it is only
 * looked up (cached), so a VM test file pays just the boot.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { QemuBackend, type QemuBackendOptions, type QemuVm } from '../../src/backend/qemu/index.js';
import type { VmSpec } from '../../src/backend/types.js';

const run = promisify(execFile);
let counter = 0;
let backend: QemuBackend | undefined;
const modeBackends = new Map<StartMode, QemuBackend>();

/** How a test VM starts: a cold boot, or a restore of its shape's template (built once, kept in the cache). */
export type StartMode = 'cold' | 'template';

/**
 * The start modes the uvm real-VM tests run in: both, unless
 * LCOW_TEST_START=cold|template picks one. (Other real-VM tests start the
 * backend's default way: from a template unless LCOW_QEMU_TEMPLATES=0.)
 */
export const START_MODES: readonly StartMode[] =
  process.env.LCOW_TEST_START === 'cold' ? ['cold'] : process.env.LCOW_TEST_START === 'template' ? ['template'] : ['cold', 'template'];

/**
 * A static hcsshim GCS binary, when the run is to be judged by the real GCS:
 * then testBackend() (and every real-VM test that uses it) serves mounts,
 * overlays and unplugs through the GCS bridge instead of qemu-guest-agent.
 */
export const GCS_BINARY = process.env.LCOW_GCS_BINARY || undefined;

/** The error a failed guest operation has in this run's mode (the GCS's HRESULT, or a script's exit status). */
export const GUEST_FAILURE_CODE = GCS_BINARY ? 'EGCS' : 'EEXEC';

/**
 * The shared backend of a test file; in gcs mode when LCOW_GCS_BINARY is set
 * (QemuBackend's own default). With `mode`, one whose VMs start that way.
 */
export function testBackend(options?: QemuBackendOptions, mode?: StartMode): QemuBackend {
  if (options) return new QemuBackend(options);
  if (mode) {
    let b = modeBackends.get(mode);
    if (!b) modeBackends.set(mode, (b = new QemuBackend({ consoleLogDir: process.env.LCOW_QEMU_CONSOLE_DIR, templates: mode === 'template' })));
    return b;
  }
  backend ??= new QemuBackend({ consoleLogDir: process.env.LCOW_QEMU_CONSOLE_DIR });
  return backend;
}

/** A started VM (512 MiB, 1 CPU, 1 SCSI controller, 4 VPMEM slots unless overridden). */
export async function bootTestVm(overrides: Partial<VmSpec> = {}, options?: QemuBackendOptions): Promise<QemuVm> {
  const b = testBackend(options);
  const spec: VmSpec = {
    id: `test-${process.pid}-${++counter}`,
    memoryMiB: 512,
    cpus: 1,
    boot: await b.defaultBoot(),
    scsiControllers: 1,
    vpmem: { count: 4, maxSizeBytes: 256 << 20 },
    ...overrides,
  };
  const vm = await b.createVm(spec);
  await vm.start();
  return vm;
}

/** A fresh temporary folder, removed by the returned cleanup. */
export async function tempDir(prefix = 'lcow-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface Ext4DiskOptions {
  /** Image size in MiB (default 8; VPMEM needs a multiple of 2). */
  sizeMiB?: number;
  /** Folder for the image (default: a new temporary folder). */
  dir?: string;
  name?: string;
}

/**
 * A small raw ext4 image holding `files` (relative path → content), made with
 * `mkfs.ext4 -d` — no mount, no root needed beyond e2fsprogs.
 */
export async function makeExt4Disk(files: Record<string, string | Buffer>, options: Ext4DiskOptions = {}): Promise<string> {
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'lcow-disk-')));
  const content = await mkdtemp(path.join(dir, 'content-'));
  for (const [rel, data] of Object.entries(files)) {
    const p = path.join(content, rel);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, data);
  }
  const image = path.join(dir, options.name ?? `disk-${++counter}.img`);
  await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', content, image, `${options.sizeMiB ?? 8}M`]);
  await rm(content, { recursive: true, force: true });
  return image;
}

/** Convert a raw image with qemu-img (fixed VHD: format 'vpc' + subformat=fixed). */
export async function convertDisk(raw: string, format: 'vhd' | 'vhdx', out: string): Promise<string> {
  const args =
    format === 'vhd'
      ? ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, out]
      : ['convert', '-f', 'raw', '-O', 'vhdx', raw, out];
  await run('qemu-img', args);
  return out;
}

/** Read a file out of an ext4 image on the host (debugfs, no mount). */
export async function readFromExt4(image: string, file: string): Promise<Buffer> {
  const { stdout } = await run('debugfs', ['-R', `cat ${file}`, image], { encoding: 'buffer', maxBuffer: 64 << 20 });
  return stdout;
}

/** Run argv in the guest and return stdout as text, failing on a non-zero exit. */
export async function guestText(vm: QemuVm, argv: string[]): Promise<string> {
  const r = await vm.exec(argv);
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8');
}
