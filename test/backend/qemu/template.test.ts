// VM templates without VMs: what the key covers, when a template is used,
// rebuilt or ignored, and that a build leaves nothing but the template (the
// QEMU side is a fake `build` writing the two files).
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { judgeTemplate, templateDir, templateKey, templateShape, type TemplateInputs } from '../../../src/backend/qemu/template/key.js';
import { shellQuote } from '../../../src/backend/qemu/template/migration.js';
import { TemplateStore, readTemplate, type TemplateRecipe } from '../../../src/backend/qemu/template/store.js';
import type { VmSpec } from '../../../src/backend/types.js';
import { tempDir } from '../../helpers/vm.js';
import { testVmSpec } from '../../helpers/vm-spec.js';
import { warningsLogger } from '../../helpers/warnings-logger.js';
import { tryLockFile } from '../../../src/file-lock.js';

/**
 * Another process holding `file`'s kernel lock (util-linux flock(1) exec'ing
 * `cat`: one process, no children to inherit the lock) until finish() (its
 * stdin ends) or kill() (SIGKILL). Both resolve once it is gone; holdLock
 * resolves once the lock is held.
 */
async function holdLock(file: string): Promise<{ finish(): Promise<void>; kill(): Promise<void> }> {
  await mkdir(path.dirname(file), { recursive: true });
  const child = spawn('flock', ['-x', '--no-fork', file, 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  for (let i = 0; ; i++) {
    const probe = await tryLockFile(file);
    if (probe === 'busy') break;
    await probe.release();
    if (i > 200) throw new Error('flock(1) never took the lock');
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    finish: () => (child.stdin.end(), gone),
    kill: () => (child.kill('SIGKILL'), gone),
  };
}

const spec = testVmSpec({
  id: 'a',
  boot: { kind: 'kernel-initrd', kernelPath: '/img/vmlinuz', initrdPath: '/img/initrd.img' },
  vpmem: { count: 4, maxSizeBytes: 256 << 20 },
});
const shapeOf = (s: VmSpec, serialConsole = false) =>
  templateShape(s, { guest: 'qemu-guest-agent', serialConsole, kernelPath: '/img/vmlinuz', initrdPath: '/img/initrd.img' });
const inputs: TemplateInputs = {
  format: 1,
  kernelSha256: 'k',
  initrdSha256: 'i',
  qemuBinary: '/usr/bin/qemu',
  qemuVersion: '7.2',
  accel: 'tcg',
  argvSha256: 'a',
};

describe('template key', () => {
  it('depends on the VM shape but not on its id', () => {
    const k = templateKey(shapeOf(spec));
    expect(k).toMatch(/^[0-9a-f]{24}$/);
    expect(templateKey(shapeOf({ ...spec, id: 'other' }))).toBe(k);
    for (const other of [
      { ...spec, memoryMiB: 1024 },
      { ...spec, cpus: 2 },
      { ...spec, scsiControllers: 2 },
      { ...spec, vpmem: { count: 64, maxSizeBytes: 256 << 20 } },
      { ...spec, vpmem: { count: 4, maxSizeBytes: 512 << 20 } },
      { ...spec, kernelArgs: 'debug' },
    ]) {
      expect(templateKey(shapeOf(other))).not.toBe(k);
    }
    expect(templateKey(shapeOf(spec, true))).not.toBe(k);
    expect(templateKey({ ...shapeOf(spec), guest: 'gcs' })).not.toBe(k);
    expect(templateKey({ ...shapeOf(spec), initrdPath: '/other/initrd.img' })).not.toBe(k);
  });
});

describe('judgeTemplate', () => {
  const shape = shapeOf(spec);
  const key = templateKey(shape);
  const meta = { key, shape, inputs, buildId: 'b1', stateBytes: 10, stateSha256: 'abc', ramBytes: 512 << 20, ramIdentity: '7:512:1', builtAt: '', buildMs: 1 };
  const good = { meta, stateBytes: 10, ramBytes: 512 << 20, ramIdentity: '7:512:1', stateSha256: 'abc' };

  it('uses a template whose files and inputs match', () => {
    expect(judgeTemplate(good, key, shape, inputs)).toMatchObject({ use: true });
  });
  it('missing: no meta.json (never finished)', () => {
    expect(judgeTemplate({ ...good, meta: undefined }, key, shape, inputs)).toMatchObject({ use: false, reason: 'missing' });
  });
  it('stale: any input changed (boot files, QEMU, accelerator)', () => {
    for (const k of Object.keys(inputs) as (keyof TemplateInputs)[]) {
      const changed = { ...inputs, [k]: k === 'format' ? 2 : 'changed' };
      expect(judgeTemplate(good, key, shape, changed)).toMatchObject({ use: false, reason: 'stale', detail: `inputs changed: ${k}` });
    }
    expect(judgeTemplate(good, key, { ...shape, cpus: 2 }, inputs)).toMatchObject({ use: false, reason: 'stale' });
  });
  it('corrupt: truncated or rewritten files, or an unreadable meta.json', () => {
    expect(judgeTemplate({ ...good, stateBytes: 5 }, key, shape, inputs)).toMatchObject({ use: false, reason: 'corrupt' });
    expect(judgeTemplate({ ...good, stateBytes: undefined }, key, shape, inputs)).toMatchObject({ use: false, reason: 'corrupt' });
    expect(judgeTemplate({ ...good, ramBytes: 4096 }, key, shape, inputs)).toMatchObject({ use: false, reason: 'corrupt' });
    expect(judgeTemplate({ ...good, ramIdentity: '7:512:2' }, key, shape, inputs)).toMatchObject({
      use: false,
      reason: 'corrupt',
      detail: 'RAM file written to since it was built',
    });
    expect(judgeTemplate({ ...good, meta: { ...meta, ramIdentity: undefined } }, key, shape, inputs)).toMatchObject({ use: false, reason: 'corrupt' });
    expect(judgeTemplate({ ...good, stateSha256: 'other' }, key, shape, inputs)).toMatchObject({ use: false, reason: 'corrupt' });
    expect(judgeTemplate({ ...good, meta: null }, key, shape, inputs)).toMatchObject({ use: false, reason: 'corrupt' });
    expect(judgeTemplate({ ...good, meta: { key } }, key, shape, inputs)).toMatchObject({ use: false, reason: 'corrupt' });
  });
});

describe('shellQuote', () => {
  it('makes one shell word of anything', () => {
    expect(shellQuote('/a b/c')).toBe(`'/a b/c'`);
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
  });
});

describe('TemplateStore', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let builds: number;
  let current: TemplateInputs;
  const { logger, warnings } = warningsLogger();
  const shape = shapeOf(spec);
  const key = templateKey(shape);
  const recipe = (fail = false): TemplateRecipe => ({
    inputs: () => Promise.resolve(current),
    build: async ({ ramPath, statePath }) => {
      builds++;
      if (fail) throw new Error('the VM did not boot');
      await writeFile(ramPath, Buffer.alloc(4096, builds));
      await writeFile(statePath, `state ${builds}`);
    },
  });

  beforeEach(async () => {
    ({ dir: root, cleanup } = await tempDir('lcow-template-unit-'));
    builds = 0;
    current = { ...inputs };
    warnings.length = 0;
  });
  afterEach(() => cleanup());

  const store = () => new TemplateStore({ cacheRoot: root, logger });
  const listing = () => readdir(path.join(root, 'templates'));

  it('builds once, then reuses; leaves only the template folder (no temp folder, no lock)', async () => {
    const s = store();
    const [a, b] = await Promise.all([s.acquire(shape, recipe()), s.acquire(shape, recipe())]);
    expect(builds).toBe(1);
    expect(a).toEqual(b);
    expect(a?.dir).toBe(templateDir(root, key));
    expect(await readFile(a!.statePath, 'utf8')).toBe('state 1');
    expect(await store().acquire(shape, recipe())).toEqual(a);
    expect(builds).toBe(1);
    expect(await listing()).toEqual([key]);
    expect((await readdir(a!.dir)).sort()).toEqual(['meta.json', 'ram', 'state']);
    expect(warnings).toEqual([]);
  });

  it('rebuilds a stale template in place', async () => {
    await store().acquire(shape, recipe());
    current = { ...inputs, initrdSha256: 'new initrd' };
    const t = await store().acquire(shape, recipe());
    expect(builds).toBe(2);
    expect(await readFile(t!.statePath, 'utf8')).toBe('state 2');
    expect(warnings).toEqual(['VM template unusable: rebuilding it']);
    expect(await listing()).toEqual([key]);
  });

  it('rebuilds a truncated one', async () => {
    const first = await store().acquire(shape, recipe());
    await truncate(first!.statePath, 3);
    const t = await store().acquire(shape, recipe());
    expect(builds).toBe(2);
    expect((await readTemplate(t!.dir)).stateBytes).toBe('state 2'.length);
    expect(warnings).toEqual(['VM template unusable: rebuilding it']);
  });

  it('rebuilds one whose RAM file was rewritten at the same size', async () => {
    const first = await store().acquire(shape, recipe());
    await new Promise((r) => setTimeout(r, 20)); // a later mtime, whatever the file system's clock granularity
    await writeFile(first!.ramPath, Buffer.alloc(4096, 0xee));
    const t = await store().acquire(shape, recipe());
    expect(builds).toBe(2);
    expect(t!.buildId).not.toBe(first!.buildId);
    expect(warnings).toEqual(['VM template unusable: rebuilding it']);
  });

  it('a failed build means no template (a cold boot), a warning, and nothing left behind', async () => {
    expect(await store().acquire(shape, recipe(true))).toBeUndefined();
    expect(warnings).toEqual(['no VM template: cold boot']);
    expect(await listing()).toEqual([]);
  });

  it('discard removes the template it was given, not a newer build', async () => {
    const s = store();
    const old = await s.acquire(shape, recipe());
    await s.discard(old!, new Error('restore failed'));
    expect(await listing()).toEqual([]);
    const fresh = await s.acquire(shape, recipe());
    await s.discard(old!, new Error('a late failure of the old one'));
    expect(await readFile(fresh!.statePath, 'utf8')).toBe('state 2');
  });

  it('keeps the `keep` most recently used templates', async () => {
    const s = new TemplateStore({ cacheRoot: root, logger, keep: 2 });
    const shapes = [1, 2, 3].map((cpus) => shapeOf({ ...spec, cpus }));
    await s.acquire(shapes[0]!, recipe());
    await new Promise((r) => setTimeout(r, 20));
    await s.acquire(shapes[1]!, recipe());
    await new Promise((r) => setTimeout(r, 20));
    await s.acquire(shapes[0]!, recipe()); // used again: now the most recent
    await new Promise((r) => setTimeout(r, 20));
    await s.acquire(shapes[2]!, recipe());
    expect((await listing()).sort()).toEqual([templateKey(shapes[0]!), templateKey(shapes[2]!)].sort());
  });

  it('a builder that died is no obstacle: its lock went with it, its temp folders are removed', async () => {
    const dir = templateDir(root, key);
    await mkdir(path.dirname(dir), { recursive: true });
    await writeFile(`${dir}.flock`, ''); // a lock file nobody holds, as a killed builder leaves it
    await mkdir(`${dir}.tmp-999999-dead`);
    expect(await store().acquire(shape, recipe())).toBeDefined();
    expect(await listing()).toEqual([key]);
  });

  it('waits while another process holds the build lock, then uses the template it made', async () => {
    const dir = templateDir(root, key);
    const other = await holdLock(`${dir}.flock`);
    try {
      const waiting = store().acquire(shape, recipe());
      await new Promise((r) => setTimeout(r, 300));
      expect(builds).toBe(0);
      // the other process finishes: its template appears, then its lock goes
      const elsewhere = await tempDir('lcow-template-unit-');
      const made = await new TemplateStore({ cacheRoot: elsewhere.dir, logger }).acquire(shape, recipe());
      await rename(made!.dir, dir);
      await elsewhere.cleanup();
      await other.finish();
      expect((await waiting)?.buildId).toBe(made!.buildId);
      expect(builds).toBe(1);
    } finally {
      await other.kill();
    }
  });

  it('a builder killed while holding the lock (SIGKILL) frees it: the waiter builds', async () => {
    const other = await holdLock(`${templateDir(root, key)}.flock`);
    const waiting = store().acquire(shape, recipe());
    await new Promise((r) => setTimeout(r, 200));
    expect(builds).toBe(0);
    await other.kill();
    expect(await waiting).toBeDefined();
    expect(builds).toBe(1);
    expect(await listing()).toEqual([key]);
  });

  it('gives up after lockWaitMs: a warning and a cold boot, never an error', async () => {
    const other = await holdLock(`${templateDir(root, key)}.flock`);
    try {
      expect(await new TemplateStore({ cacheRoot: root, logger, lockWaitMs: 300 }).acquire(shape, recipe())).toBeUndefined();
      expect(warnings).toEqual(['no VM template: cold boot']);
      expect(builds).toBe(0);
    } finally {
      await other.kill();
    }
  });

  it('pruning skips a template another process is rebuilding', async () => {
    const s = new TemplateStore({ cacheRoot: root, logger, keep: 1 });
    const [first, second] = [1, 2].map((cpus) => shapeOf({ ...spec, cpus }));
    await s.acquire(first!, recipe());
    const other = await holdLock(`${templateDir(root, templateKey(first!))}.flock`);
    try {
      await s.acquire(second!, recipe()); // keep 1: would remove the first, but its lock is held
      expect((await listing()).sort()).toEqual([templateKey(first!), `${templateKey(first!)}.flock`, templateKey(second!)].sort());
    } finally {
      await other.kill();
    }
    await s.acquire(shapeOf({ ...spec, cpus: 3 }), recipe()); // now nothing holds it: both older ones go
    expect(await listing()).toEqual([templateKey(shapeOf({ ...spec, cpus: 3 }))]);
  });
});
