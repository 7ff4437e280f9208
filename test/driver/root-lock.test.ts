// One opener of a data root at a time. A second process — the library or the
// CLI — gets EBUSY naming the holder's pid and touches nothing, so an
// apply-diff under way in the first completes; the kernel gives the lock back
// when the holder goes. In one process, a second LcowDriver on the root is
// refused the same way, and a cleaned-up driver is closed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { LcowDriver } from '../../src/driver/index.js';
import { lcow } from './helpers/cli.js';
import { layerTar, readTar } from './helpers/layers.js';

const CHILD = path.join(import.meta.dirname, 'helpers', 'slow-apply-child.ts');
let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'lcow-lock-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const open = () => LcowDriver.open(root, { backend: new FakeBackend() });

/** The child's stdout, line by line, as it arrives. */
function lines(c: { stdout: Readable }): () => Promise<string> {
  let buf = '';
  const waiting: ((l: string) => void)[] = [];
  const ready: string[] = [];
  c.stdout.on('data', (b: Buffer) => {
    buf += b.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l);
      else ready.push(l);
    }
  });
  return () => {
    const l = ready.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((r) => waiting.push(r));
  };
}

describe('one opener per data root', () => {
  it('a second process gets EBUSY naming the holder; the holder’s apply-diff completes untouched', async () => {
    const c = spawn(process.execPath, ['--import', 'tsx', CHILD, root, 'L'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((r) => c.once('exit', r));
    const next = lines(c);
    expect(await next()).toBe(`applying ${c.pid}`);
    const work = () => readdirSync(root).filter((n) => n.startsWith('L-applying-'));
    while (work().length === 0) await new Promise((r) => setTimeout(r, 10)); // the child's conversion has begun

    await expect(open()).rejects.toMatchObject({ code: 'EBUSY', context: { root, holderPid: c.pid } });
    for (const verb of [['exists', 'L'], ['cleanup']]) {
      const r = await lcow(['driver', verb[0]!, '--root', root, ...verb.slice(1)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`lcow: EBUSY: data root ${root} is in use by process ${c.pid}`);
    }
    expect(work()).toHaveLength(1); // nobody took the holder's work directory for a crash leftover

    c.stdin.write('finish\n');
    expect(await next()).toMatch(/^applied \d+$/);
    expect(await exited).toBe(0);
    const d = await open(); // the holder's cleanup gave the root back
    try {
      expect(await d.exists('L')).toBe(true);
      const [entry] = await readTar(await d.diff('L'));
      expect(entry).toMatchObject({ name: 'data.bin', size: 1 << 20 });
      expect(readdirSync(root).sort()).toEqual(['L', 'cache']);
    } finally {
      await d.cleanup();
    }
  }, 120_000);

  it('the kernel releases a killed holder’s lock: the next open works and finishes its leftovers', async () => {
    const c = spawn(process.execPath, ['--import', 'tsx', CHILD, root, 'K'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const gone = new Promise((r) => c.once('exit', r));
    expect(await lines(c)()).toBe(`applying ${c.pid}`);
    c.kill('SIGKILL');
    await gone;
    const d = await open();
    expect(readdirSync(root)).toEqual(['cache']);
    await d.cleanup();
  }, 120_000);

  it('in one process: a second driver is refused, a cleaned-up one is closed and gives the root back', async () => {
    const d = await open();
    await d.create('a');
    await expect(open()).rejects.toMatchObject({ code: 'EBUSY', context: { holderPid: process.pid } });
    await d.cleanup();
    await d.cleanup(); // a second cleanup does nothing
    await expect(d.create('b')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(d.exists('a')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(d.applyDiff('b', '', layerTar([]))).rejects.toMatchObject({ code: 'EINVAL' });
    const again = await open();
    expect(await again.exists('a')).toBe(true);
    await again.cleanup();
  });
});
