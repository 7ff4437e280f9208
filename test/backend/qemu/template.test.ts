// VM templates without VMs: what the key covers, when a template is used,
// rebuilt or ignored, and that a build leaves nothing but the template (the
// QEMU side is a fake `build` writing the two files).
import { mkdir, readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { judgeTemplate, templateDir, templateKey, templateShape, type TemplateInputs } from '../../../src/backend/qemu/template/key.js';
import { shellQuote } from '../../../src/backend/qemu/template/migration.js';
import { TemplateStore, readTemplate, type TemplateRecipe } from '../../../src/backend/qemu/template/store.js';
import type { VmSpec } from '../../../src/backend/types.js';
import { tempDir } from '../../helpers/vm.js';
import { testVmSpec } from '../../helpers/vm-spec.js';
import { warningsLogger } from '../../helpers/warnings-logger.js';

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
  const meta = { key, shape, inputs, buildId: 'b1', stateBytes: 10, stateSha256: 'abc', ramBytes: 512 << 20, builtAt: '', buildMs: 1 };
  const good = { meta, stateBytes: 10, ramBytes: 512 << 20, stateSha256: 'abc' };

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

  it('takes over the lock and temp folders of a builder that died', async () => {
    const dir = templateDir(root, key);
    await mkdir(`${dir}.lock`, { recursive: true });
    await writeFile(`${dir}.lock/pid`, '999999');
    await mkdir(`${dir}.tmp-999999-dead`);
    const s = new TemplateStore({ cacheRoot: root, logger, pidAlive: () => false });
    expect(await s.acquire(shape, recipe())).toBeDefined();
    expect(await listing()).toEqual([key]);
  });

  it('waits for a live builder of another process, then uses its template', async () => {
    const dir = templateDir(root, key);
    await mkdir(`${dir}.lock`, { recursive: true });
    await writeFile(`${dir}.lock/pid`, '4242');
    const waiting = new TemplateStore({ cacheRoot: root, logger, pidAlive: () => true }).acquire(shape, recipe());
    await new Promise((r) => setTimeout(r, 300));
    expect(builds).toBe(0);
    // the other process finishes: its template appears, its lock goes
    const elsewhere = await tempDir('lcow-template-unit-');
    const made = await new TemplateStore({ cacheRoot: elsewhere.dir, logger }).acquire(shape, recipe());
    await rename(made!.dir, dir);
    await rm(`${dir}.lock`, { recursive: true });
    await elsewhere.cleanup();
    expect((await waiting)?.buildId).toBe(made!.buildId);
    expect(builds).toBe(1);
  });
});
