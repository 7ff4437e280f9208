// The driver with real QEMU service VMs. Safe mode: the count of service VMs
// is back to 0 after every operation. Global mode: exactly one VM until
// cleanup. File operations, container processes, and a sandbox's writes
// coming back out through diff/changes on the host.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LcowDriver } from '../../src/driver/index.js';
import { testBackend } from '../helpers/vm.js';
import { busyboxItems } from './helpers/busybox-layer.js';
import { layerTar, readTar } from './helpers/layers.js';

const roots: string[] = [];
function newRoot(): string {
  const r = mkdtempSync(path.join(tmpdir(), 'lcow-drv-vm-'));
  roots.push(r);
  return r;
}
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

async function openDriver(options: string[], created: string[]): Promise<LcowDriver> {
  return LcowDriver.open(newRoot(), { options, backend: testBackend(), onServiceVmCreate: (id) => created.push(id) });
}

async function baseChain(d: LcowDriver): Promise<void> {
  await d.applyDiff('base', '', layerTar(busyboxItems()));
  await d.applyDiff(
    'app',
    'base',
    layerTar([
      { name: 'app/', type: 'directory' },
      { name: 'app/hello.txt', data: 'hello from app\n' },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh.os-release', data: '' },
    ]),
  );
}

describe('safe mode with real VMs', () => {
  let d: LcowDriver;
  const created: string[] = [];
  beforeAll(async () => {
    d = await openDriver([], created);
    await baseChain(d);
  });
  afterAll(async () => d?.cleanup());

  it('get on a read-only layer: the union shows the chain (whiteouts applied); put stops the VM', async () => {
    const h = await d.get('app');
    expect(d.status().serviceVms).toEqual([]); // lazy: nothing yet
    expect((await h.readFile('/app/hello.txt')).toString()).toBe('hello from app\n');
    expect(d.status().serviceVms).toEqual(['app']);
    // (lost+found is the converter's: e2fsck wants one in every ext4; dev, proc and sys are the
    // container runtime's mount points, from a guest directory under every union)
    expect((await h.readdir('/')).filter((n) => n !== 'lost+found')).toEqual(['app', 'bin', 'dev', 'etc', 'proc', 'sys', 'tmp']);
    expect(await h.readdir('/etc')).toEqual([]); // os-release whited out by app
    expect(await h.stat('/bin/busybox')).toMatchObject({ type: 'file', mode: 0o755 });
    expect(await h.stat('/bin/sh')).toMatchObject({ type: 'symlink' });
    await expect(h.readFile('/etc/os-release')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(h.writeFile('/app/new', 'x')).rejects.toMatchObject({ code: 'EEXEC' }); // read-only union
    await expect(h.readFile('/../../etc/passwd')).rejects.toMatchObject({ code: 'EINVAL' });
    await d.put('app');
    expect(d.status().serviceVms).toEqual([]);
  });

  it('a sandbox: write, read, run a container process; put; the writes come back out on the host', async () => {
    await d.createReadWrite('ctr', 'app');
    expect(d.status().serviceVms).toEqual([]);
    const h = await d.get('ctr');
    await h.mkdir('/data/sub', { recursive: true });
    await h.writeFile('/data/sub/a file with spaces', 'written in the VM\n');
    expect((await h.readFile('/data/sub/a file with spaces')).toString()).toBe('written in the VM\n');
    await h.remove('/app/hello.txt');
    const r = await h.run(['/bin/sh', '-c', 'cat /data/sub/*; echo err >&2; exit 7']);
    expect(r).toMatchObject({ exitCode: 7 });
    expect(r.stdout.toString()).toBe('written in the VM\n');
    expect(r.stderr.toString()).toBe('err\n');
    await expect(d.diff('ctr')).rejects.toMatchObject({ code: 'EBUSY' }); // mounted sandbox
    await expect(d.remove('ctr')).rejects.toMatchObject({ code: 'EBUSY' });
    await d.put('ctr');
    expect(d.status().serviceVms).toEqual([]);
    const changes = await d.changes('ctr', 'app');
    expect(changes).toEqual(
      expect.arrayContaining([
        { path: '/data', kind: 'add' },
        { path: '/data/sub/a file with spaces', kind: 'add' },
        { path: '/app/hello.txt', kind: 'delete' },
      ]),
    );
    expect(await d.diffSize('ctr', 'app')).toBe('written in the VM\n'.length);
    const names = (await readTar(await d.diff('ctr', 'app'))).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['data/sub/a file with spaces', 'app/.wh.hello.txt']));
    await d.remove('ctr');
    expect(d.status().serviceVms).toEqual([]);
  });

  it('concurrent gets of different layers run in parallel VMs; every count returns to 0', async () => {
    const before = created.length;
    const [a, b] = await Promise.all([d.get('base'), d.get('app')]);
    const [ra, rb] = await Promise.all([a.readdir('/bin'), b.readdir('/app')]);
    expect(ra).toContain('busybox');
    expect(rb).toEqual(['hello.txt']);
    expect(d.status().serviceVms.sort()).toEqual(['app', 'base']);
    await Promise.all([d.put('base'), d.put('app')]);
    expect(d.status().serviceVms).toEqual([]);
    expect(created.length - before).toBe(2);
  });

  it('lcow.sandboxsize=30 gives a sandbox whose ext4 the guest reports at 30 GB', async () => {
    const d30 = await openDriver(['lcow.sandboxsize=30'], []);
    try {
      await d30.applyDiff('base', '', layerTar(busyboxItems()));
      await d30.createReadWrite('big', 'base');
      const h = await d30.get('big');
      // df in the service VM on the union: overlay reports its upper file system, the sandbox's ext4
      const r = await (await h.vm()).exec(['df', '-k', await h.rootfs()]);
      expect(r.exitCode).toBe(0);
      const kb = Number(r.stdout.toString().trim().split('\n')[1]!.trim().split(/\s+/)[1]);
      const bytes = kb * 1024;
      expect(bytes).toBeGreaterThan(29 * 1024 ** 3 * 0.97);
      expect(bytes).toBeLessThanOrEqual(30 * 1024 ** 3);
      await d30.put('big');
    } finally {
      await d30.cleanup();
    }
  });
});

describe('global mode with real VMs', () => {
  it('exactly one VM serves every layer until cleanup', async () => {
    const created: string[] = [];
    const d = await openDriver(['lcow.globalmode=true'], created);
    try {
      await baseChain(d);
      await d.createReadWrite('ctr', 'app');
      for (const id of ['base', 'app', 'ctr']) {
        const h = await d.get(id);
        expect((await h.readdir('/bin')).length).toBeGreaterThan(3);
      }
      expect(d.status().serviceVms).toEqual(['_lcow_global_svm_']);
      for (const id of ['base', 'app', 'ctr']) await d.put(id);
      expect(d.status().serviceVms).toEqual(['_lcow_global_svm_']);
      const h = await d.get('app');
      expect((await h.readFile('/app/hello.txt')).toString()).toBe('hello from app\n');
      await d.put('app');
      expect(created).toEqual(['_lcow_global_svm_']);
    } finally {
      await d.cleanup();
    }
    expect(d.status().serviceVms).toEqual([]);
  });
});
