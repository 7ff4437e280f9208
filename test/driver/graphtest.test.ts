// moby's graph-driver conformance scenarios (graphtest), on real images:
// layers converted by the real converter in the worker, read back on the
// host. The VM-side scenarios (get/put on a real rootfs) are in
// driver.vm.test.ts; ref counting with the fake backend in driver.test.ts.
// As in moby's graphtest, the scenarios share one driver but each makes the
// layers it needs and removes them, so any one of them runs alone (`-t`).
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { LcowDriver } from '../../src/driver/index.js';
import { layerTar, readTar } from './helpers/layers.js';

let root: string;
let d: LcowDriver;
let vmCreations = 0;
const backend = new FakeBackend();

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'graphtest-'));
  d = await LcowDriver.open(root, { backend, onServiceVmCreate: () => vmCreations++ });
});
afterAll(async () => {
  await d.cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** Layers the running scenario made, removed children first after it (those it removed itself are gone already). */
const made: string[] = [];
const track = (id: string): string => (made.push(id), id);
afterEach(async () => {
  for (const id of made.splice(0).reverse()) if (await d.exists(id)) await d.remove(id);
  // Nothing a scenario made outlives it: only the driver's own folders are left.
  expect(readdirSync(root).filter((n) => n !== 'cache' && n !== 'scratch')).toEqual([]);
});

const BASE = [
  { name: 'etc/', type: 'directory' as const },
  { name: 'etc/hostname', data: 'base\n' },
  { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'bin/', type: 'directory' as const },
  { name: 'bin/sh', data: Buffer.alloc(10_000, 1), mode: 0o755 },
  { name: 'bin/ash', type: 'symlink' as const, linkname: 'sh' },
  { name: 'var/', type: 'directory' as const },
  { name: 'var/cache/', type: 'directory' as const },
  { name: 'var/cache/a', data: 'aaa' },
  { name: 'var/cache/b', data: 'bbb' },
];

/** A read-only layer holding BASE, as `docker pull` leaves it. */
async function makeBase(id: string): Promise<string> {
  await d.create(track(id));
  await d.applyDiff(id, '', layerTar(BASE));
  return id;
}

/** A child of `parent` that modifies, deletes (whiteout, opaque dir) and adds. */
async function makeSnap(id: string, parent: string): Promise<string> {
  await d.create(track(id), parent);
  await d.applyDiff(
    id,
    parent,
    layerTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/hostname', data: 'snapshot!\n' }, // modify: 10 bytes
      { name: 'etc/.wh.passwd', data: '' }, // delete
      { name: 'app/', type: 'directory' },
      { name: 'app/run.sh', data: 'echo hi\n', mode: 0o755 }, // add: 8 bytes
      { name: 'var/', type: 'directory' },
      { name: 'var/cache/', type: 'directory' },
      { name: 'var/cache/.wh..wh..opq', data: '' }, // opaque: a and b deleted
      { name: 'var/cache/c', data: 'ccccc' }, // add: 5 bytes
    ]),
  );
  return id;
}

describe('graphtest scenarios', () => {
  it('create empty: exists, no content, removed cleanly', async () => {
    await d.create(track('empty'));
    expect(await d.exists('empty')).toBe(true);
    expect(await d.getMetadata('empty')).toMatchObject({ kind: 'empty' });
    await d.remove('empty');
    expect(await d.exists('empty')).toBe(false);
  });

  it('create base: applyDiff returns the image size; diff gives the content back', async () => {
    await d.create(track('base'));
    const size = await d.applyDiff('base', '', layerTar(BASE));
    expect(size).toBe(statSync(path.join(root, 'base', 'layer.vhd')).size);
    const seen = await readTar(await d.diff('base', ''));
    expect(seen.map((e) => e.name)).toEqual([
      'bin',
      'bin/ash',
      'bin/sh',
      'etc',
      'etc/hostname',
      'etc/passwd',
      'var',
      'var/cache',
      'var/cache/a',
      'var/cache/b',
    ]);
    expect(seen.find((e) => e.name === 'bin/sh')).toMatchObject({ mode: 0o755, size: 10_000 });
    expect(seen.find((e) => e.name === 'bin/ash')).toMatchObject({ type: 'symlink', linkname: 'sh' });
    expect(Buffer.from(seen.find((e) => e.name === 'etc/hostname')!.data!, 'base64').toString()).toBe('base\n');
    expect(await d.changes('base', '')).toEqual(
      expect.arrayContaining([
        { path: '/etc/hostname', kind: 'add' },
        { path: '/bin/sh', kind: 'add' },
      ]),
    );
  });

  it('diff → applyDiff round trip gives identical content', async () => {
    await makeBase('base');
    const first = await readTar(await d.diff('base'));
    await d.applyDiff(track('copy'), '', await d.diff('base')); // a new id: the whole directory appears at once
    const second = await readTar(await d.diff('copy'));
    expect(second).toEqual(first);
    await d.remove('copy');
  });

  it('snapshot chain: changes reports adds, modifies and deletes; diffSize the bytes changed', async () => {
    await makeSnap('snap', await makeBase('base'));
    const ch = await d.changes('snap', 'base');
    expect(ch).toEqual(
      expect.arrayContaining([
        { path: '/app', kind: 'add' },
        { path: '/app/run.sh', kind: 'add' },
        { path: '/etc/hostname', kind: 'modify' },
        { path: '/etc/passwd', kind: 'delete' },
        { path: '/var/cache/a', kind: 'delete' },
        { path: '/var/cache/b', kind: 'delete' },
        { path: '/var/cache/c', kind: 'add' },
      ]),
    );
    expect(ch.find((c) => c.path.startsWith('/bin'))).toBeUndefined();
    expect(await d.diffSize('snap', 'base')).toBe(10 + 8 + 5);
    // the snapshot's own tar carries the deletions as whiteouts
    const names = (await readTar(await d.diff('snap', 'base'))).map((e) => e.name);
    expect(names).toContain('etc/.wh.passwd');
    expect(names).toContain('var/cache/.wh..wh..opq');
    expect(JSON.parse(readFileSync(path.join(root, 'snap', 'layerchain.json'), 'utf8'))).toEqual([path.join(root, 'base')]);
  });

  it('diffGetter reads named files of a layer', async () => {
    await makeSnap('snap', await makeBase('base'));
    const g = await d.diffGetter('snap');
    try {
      const chunks: Buffer[] = [];
      for await (const c of await g.get('app/run.sh')) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('echo hi\n');
      await expect(g.get('etc/passwd')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    } finally {
      await g.close();
    }
  });

  it('applyDiff onto a layer that already has an image is EEXIST; a bad tar leaves no half layer', async () => {
    await makeBase('base');
    await expect(d.applyDiff('base', '', layerTar([{ name: 'x', data: 'x' }]))).rejects.toMatchObject({ code: 'EEXIST' });
    await d.create(track('broken'), 'base');
    const garbage = (async function* () {
      yield Buffer.alloc(512, 0x41);
      yield Buffer.alloc(1024);
    })();
    await expect(d.applyDiff('broken', 'base', garbage)).rejects.toMatchObject({ code: 'EBADTAR' });
    expect(await d.getMetadata('broken')).toMatchObject({ kind: 'empty' });
    await expect(
      d.applyDiff(
        track('fresh'),
        'base',
        (async function* () {
          yield Buffer.alloc(512, 0x41);
        })(),
      ),
    ).rejects.toMatchObject({ code: 'EBADTAR' });
    expect(await d.exists('fresh')).toBe(false);
    expect(readdirSync(root).filter((n) => n.includes('-applying-') || n.includes('-creating-'))).toEqual([]);
    await d.remove('broken');
  });

  it('many parallel applyDiffs (worker threads) all land', async () => {
    await makeBase('base');
    const ids = Array.from({ length: 8 }, (_, i) => track(`par${i}`));
    const sizes = await Promise.all(ids.map((id, i) => d.applyDiff(id, 'base', layerTar([{ name: `f${i}`, data: `file ${i}` }]))));
    expect(sizes.every((s) => s > 0)).toBe(true);
    for (const [i, id] of ids.entries()) expect(await d.changes(id, 'base')).toEqual([{ path: `/f${i}`, kind: 'add' }]);
    await Promise.all(ids.map((id) => d.remove(id)));
  });

  it('createReadWrite: the default size is made once on the host and copied after; no VM ever', async () => {
    await makeSnap('snap', await makeBase('base'));
    await d.createReadWrite(track('rw1'), 'snap');
    await d.createReadWrite(track('rw2'), 'snap');
    const template = path.join(root, 'cache', 'sandbox-20gb.vhdx');
    expect(statSync(template).isFile()).toBe(true);
    expect(statSync(path.join(root, 'rw2', 'sandbox.vhdx')).size).toBe(statSync(template).size);
    expect(await d.changes('rw1', 'snap')).toEqual([]);
    expect(await readTar(await d.diff('rw1'))).toEqual([]);
    expect(vmCreations).toBe(0);
    expect(backend.vms).toHaveLength(0); // counted at the backend too: not one VM was created
    await d.remove('rw1');
    await d.remove('rw2');
  });
});
