// Real-VM helpers for uvm tests: layer images with whiteouts (a char device
// 0:0 made with mknod before `mkfs.ext4 -d`), and guest inspection through a
// UtilityVM.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect } from 'vitest';
import { createUtilityVM, type UtilityVM, type UtilityVMOptions } from '../../src/uvm/index.js';
import { tempDir, testBackend, type StartMode } from '../helpers/vm.js';

const run = promisify(execFile);

export type LayerTree = Record<string, string | Buffer | { whiteout: true }>;

/** A raw ext4 image of `files` (sizeMiB: a multiple of 2 so VPMEM can map it). */
export async function makeLayerImage(dir: string, name: string, files: LayerTree, sizeMiB = 4): Promise<string> {
  const content = await mkdtemp(path.join(dir, `${name}-tree-`));
  for (const [rel, data] of Object.entries(files)) {
    const p = path.join(content, rel);
    await mkdir(path.dirname(p), { recursive: true });
    if (typeof data === 'object' && !Buffer.isBuffer(data)) await run('mknod', [p, 'c', '0', '0']);
    else await writeFile(p, data);
  }
  const image = path.join(dir, name);
  await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-O', '^has_journal', '-N', '64', '-d', content, image, `${sizeMiB}M`]);
  await rm(content, { recursive: true, force: true });
  return image;
}

/** An empty read-write ext4 scratch (sparse). */
export async function makeScratchImage(dir: string, name = 'scratch.img', sizeMiB = 64): Promise<string> {
  const image = path.join(dir, name);
  await run('mkfs.ext4', ['-q', '-F', '-b', '4096', image, `${sizeMiB}M`]);
  return image;
}

/** stdout of argv in the guest; throws on a non-zero exit. */
export async function guestOut(uvm: UtilityVM, argv: string[], stdin?: string | Buffer): Promise<string> {
  const r = await uvm.exec(argv, { stdin });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8');
}

/** Mount points in the guest's /proc/mounts that this library made (not the guest's own). */
export async function ourMounts(uvm: UtilityVM): Promise<string[]> {
  const mounts = await guestOut(uvm, ['cat', '/proc/mounts']);
  return mounts
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m): m is string => m !== undefined && m.startsWith('/run/') && m !== '/run');
}

/** SCSI disks the guest still sees (`H:C:T:L` entries of /sys/bus/scsi/devices). */
export async function scsiDevices(uvm: UtilityVM): Promise<string[]> {
  return (await guestOut(uvm, ['ls', '/sys/bus/scsi/devices'])).split('\n').filter((e) => /^\d+:\d+:\d+:\d+$/.test(e));
}

/** The guest's /dev/pmemN devices (a released VPMEM layer leaves none: the guest lets go of its device). */
export async function pmemDevices(uvm: UtilityVM): Promise<string[]> {
  return (await guestOut(uvm, ['ls', '/dev'])).split('\n').filter((e) => /^pmem\d+$/.test(e));
}

/**
 * gcs mode: how many times the real GCS ran each storage step so far. Its
 * info log (/run/gcs.log) has one span per step (`name="scsi::Mount"` …), so
 * this shows that the GCS, not the agent, served the mounts and overlays.
 */
export async function gcsSteps(uvm: UtilityVM): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const m of (await guestOut(uvm, ['cat', '/run/gcs.log'])).matchAll(/name="((?:scsi|pmem|overlay)::\w+)"/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
  return counts;
}

/**
 * One started UtilityVM (QEMU) and one temporary folder shared by a test
 * file (or a describe block: one per start mode): booted or restored from a
 * template in beforeAll, terminated and removed in afterAll.
 */
export function sharedUvm(name: string, options: Partial<UtilityVMOptions> = {}, mode?: StartMode): { readonly uvm: UtilityVM; readonly dir: string } {
  const state = {} as { uvm: UtilityVM; dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    ({ dir: state.dir, cleanup: state.cleanup } = await tempDir(`lcow-${name}-`));
    const backend = testBackend(undefined, mode);
    state.uvm = await createUtilityVM({ id: `${name}-${mode ?? 'vm'}-${process.pid}`, backend, memoryMiB: 512, cpus: 1, ...options });
    await state.uvm.start();
    if (mode) expect((await state.uvm.properties()).startMode).toBe(mode);
  }, 600_000);
  afterAll(async () => {
    await state.uvm?.terminate();
    await state.cleanup?.();
  });
  return state;
}
