// Real VMs started from a template: a restored VM works like a cold one
// (exec, SCSI and VPMEM hot-plug, its clock set); two clones at once share
// no writable state and each has its own sockets (in gcs mode each resumes
// the GCS bridge); a stale or truncated
// template is rebuilt, one that fails to restore gives a cold boot, a
// warning and a new template; and nothing is left behind (QEMU process,
// socket folder, lock, temp folder). The VM shape has a kernel argument of
// its own, so this file builds (and at the end removes) a template nobody
// else uses.
import { access, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QemuBackend, cacheRoot, type QemuVm } from '../../../src/backend/qemu/index.js';
import type { VmSpec } from '../../../src/backend/types.js';
import { GCS_BINARY, guestText, makeExt4Disk, tempDir } from '../../helpers/vm.js';
import { warningsLogger } from '../../helpers/warnings-logger.js';

const { logger: capture, warnings } = warningsLogger();
const backend = new QemuBackend({ templates: true, logger: capture });
const tag = `lcow.test=template-${process.pid}`;
let counter = 0;
const started: QemuVm[] = [];

async function startVm(): Promise<QemuVm> {
  const spec: VmSpec = {
    id: `tpl-test-${process.pid}-${++counter}`,
    memoryMiB: 256,
    cpus: 1,
    boot: await backend.defaultBoot(),
    kernelArgs: tag,
    scsiControllers: 1,
    vpmem: { count: 2, maxSizeBytes: 64 << 20 },
  };
  const vm = await backend.createVm(spec);
  started.push(vm);
  await vm.start();
  return vm;
}

/** The folder of this file's template (the only one whose meta.json holds our kernel argument). */
async function ourTemplate(): Promise<string> {
  const root = path.join(cacheRoot(), 'templates');
  for (const name of await readdir(root)) {
    const meta = await readFile(path.join(root, name, 'meta.json'), 'utf8').catch(() => '');
    if (meta.includes(tag)) return path.join(root, name);
  }
  throw new Error('no template of this test');
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const buildIdOf = async (dir: string) => (JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as { buildId: string }).buildId;

afterAll(async () => {
  await Promise.all(started.map((vm) => vm.terminate()));
  // nothing left behind: no QEMU process, no socket folder, no lock or temp folder
  for (const vm of started) {
    expect(vm.state).toBe('stopped');
    if (vm.pid !== undefined) expect(() => process.kill(vm.pid!, 0)).toThrow();
  }
  const dir = await ourTemplate().catch(() => undefined);
  const siblings = await readdir(path.join(cacheRoot(), 'templates'));
  if (dir) expect(siblings.filter((n) => n.startsWith(`${path.basename(dir)}.`))).toEqual([]);
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('VMs from a template', () => {
  it('a restored VM answers, has the host time, and hot-plugs SCSI and VPMEM', async () => {
    const first = await startVm(); // builds the template, then restores it
    expect(first.startMode).toBe('template');
    await first.terminate();
    const vm = await startVm();
    expect(vm.startMode).toBe('template');
    const guestNow = Number(await guestText(vm, ['date', '+%s']));
    expect(Math.abs(guestNow - Date.now() / 1000)).toBeLessThan(5);
    const { dir, cleanup } = await tempDir();
    try {
      const disk = await makeExt4Disk({ 'hello.txt': 'scsi\n' }, { dir });
      await vm.addScsiDisk(0, 0, { hostPath: disk, readOnly: true });
      await vm.mountScsi({ controller: 0, lun: 0, guestPath: '/run/t/s', readOnly: true });
      expect(await guestText(vm, ['cat', '/run/t/s/hello.txt'])).toBe('scsi\n');
      const pmem = await makeExt4Disk({ 'hello.txt': 'pmem\n' }, { dir, sizeMiB: 4 });
      expect(await vm.addVpmemDevice(1, { hostPath: pmem })).toMatchObject({ added: true });
      await vm.mountVpmem({ slot: 1, guestPath: '/run/t/p' });
      expect(await guestText(vm, ['cat', '/run/t/p/hello.txt'])).toBe('pmem\n');
      await vm.unmount('/run/t/s');
      await vm.unmount('/run/t/p');
    } finally {
      await vm.terminate();
      await cleanup();
    }
    expect(warnings).toEqual([]);
  });

  it('two clones at once share no writable state and have their own sockets; both stop cleanly', async () => {
    const [a, b] = await Promise.all([startVm(), startVm()]);
    expect([a.startMode, b.startMode]).toEqual(['template', 'template']);
    expect(a.runtimeDir).not.toBe(b.runtimeDir);
    expect(a.pid).not.toBe(b.pid);
    if (GCS_BINARY) {
      // each clone's client resumed the bridge its template's builder negotiated
      expect([a.guestAgent, b.guestAgent]).toEqual(['gcs', 'gcs']);
      expect((await a.execViaGcs(['true'])).exitCode).toBe(0);
      expect((await b.execViaGcs(['true'])).exitCode).toBe(0);
    }
    await guestText(a, ['sh', '-c', 'echo a > /tmp/only-a']);
    await guestText(b, ['sh', '-c', 'echo b > /tmp/only-b']);
    expect(await guestText(a, ['ls', '/tmp'])).toContain('only-a');
    expect(await guestText(a, ['ls', '/tmp'])).not.toContain('only-b');
    expect(await guestText(b, ['ls', '/tmp'])).not.toContain('only-a');
    const dirs = [a.runtimeDir!, b.runtimeDir!];
    await Promise.all([a.terminate(), b.terminate()]);
    expect([(await a.waitExit()).reason, (await b.waitExit()).reason]).toEqual(['terminated', 'terminated']);
    for (const d of dirs) expect(await exists(d)).toBe(false);
  });

  it('a template made from other inputs is rebuilt; so is a truncated one', async () => {
    const dir = await ourTemplate();
    const metaPath = path.join(dir, 'meta.json');
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as { inputs: { qemuVersion: string }; buildId: string };
    await writeFile(metaPath, JSON.stringify({ ...meta, inputs: { ...meta.inputs, qemuVersion: 'QEMU emulator version 0.1' } }));
    warnings.length = 0;
    const vm = await startVm();
    expect(vm.startMode).toBe('template');
    expect(warnings).toEqual(['VM template unusable: rebuilding it']);
    expect(await buildIdOf(dir)).not.toBe(meta.buildId);
    await vm.terminate();

    const before = await buildIdOf(dir);
    await truncate(path.join(dir, 'state'), 1000);
    warnings.length = 0;
    const again = await startVm();
    expect(again.startMode).toBe('template');
    expect(warnings).toEqual(['VM template unusable: rebuilding it']);
    expect(await buildIdOf(dir)).not.toBe(before);
    await again.terminate();
  });

  it('a template that fails to restore gives a cold boot and a warning, and is replaced', async () => {
    const dir = await ourTemplate();
    // garbage that the checks cannot tell from a good state file (its size and sha256 recorded as its own)
    const garbage = Buffer.alloc(4096, 0x5a);
    const metaPath = path.join(dir, 'meta.json');
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as Record<string, unknown>;
    const { createHash } = await import('node:crypto');
    await writeFile(path.join(dir, 'state'), garbage);
    await writeFile(metaPath, JSON.stringify({ ...meta, stateBytes: garbage.length, stateSha256: createHash('sha256').update(garbage).digest('hex') }));
    warnings.length = 0;
    const vm = await startVm();
    expect(vm.startMode).toBe('cold');
    expect(warnings).toEqual(['VM template failed to restore: cold boot; it will be rebuilt']);
    expect(await guestText(vm, ['echo', 'cold'])).toBe('cold\n');
    await vm.terminate();
    expect(await exists(dir)).toBe(false);
    const next = await startVm();
    expect(next.startMode).toBe('template');
    await next.terminate();
  });
});
