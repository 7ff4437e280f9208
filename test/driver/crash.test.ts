// Crash safety: a process SIGKILLed in the middle of applyDiff or remove
// leaves no visible half layer, and a new driver on the same root cleans up
// and works.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { LcowDriver } from '../../src/driver/index.js';
import { layerTar, readTar } from './helpers/layers.js';

const CHILD = path.join(import.meta.dirname, 'helpers', 'crash-child.ts');
let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'lcow-crash-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function child(...args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CHILD, root, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Poll until `pred` holds (or the child exits, which fails the test). */
async function until(c: ChildProcess, pred: () => boolean, what: string): Promise<void> {
  for (;;) {
    if (pred()) return;
    if (c.exitCode !== null) throw new Error(`child exited (${c.exitCode}) before: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function kill(c: ChildProcess): Promise<void> {
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

const open = () => LcowDriver.open(root, { backend: new FakeBackend() });
const entries = () => readdirSync(root).sort();
/** The converter's temp file inside the applyDiff work dir has data in it. */
function converting(): boolean {
  for (const n of readdirSync(root).filter((x) => x.includes('-applying-'))) {
    try {
      if (readdirSync(path.join(root, n)).some((f) => f.includes('tmp'))) return true;
    } catch {
      // raced with creation
    }
  }
  return false;
}

describe('crash safety (SIGKILL)', () => {
  it('during applyDiff of a new layer: the layer is not there; a new driver cleans up and applies', async () => {
    await (await open()).cleanup(); // a root that exists, given back: the child opens it
    const c = child('apply', 'L');
    await until(c, converting, 'conversion started');
    await kill(c);
    expect(entries().some((n) => n.includes('-applying-'))).toBe(true); // the crash left its work dir…
    const d = await open();
    expect(await d.exists('L')).toBe(false); // …but never a visible layer
    expect(entries()).toEqual(['cache']);
    await d.applyDiff('L', '', layerTar([{ name: 'ok', data: 'fine' }]));
    expect((await readTar(await d.diff('L'))).map((e) => e.name)).toEqual(['ok']);
  }, 120_000);

  it('during applyDiff into a created layer: it stays an empty layer, no half image', async () => {
    const c = child('apply', 'C', 'created');
    await until(c, converting, 'conversion started');
    await kill(c);
    const d = await open();
    expect(await d.exists('C')).toBe(true);
    expect(await d.getMetadata('C')).toMatchObject({ kind: 'empty' });
    expect(readdirSync(path.join(root, 'C'))).toEqual(['layerchain.json']);
    expect(entries()).toEqual(['C', 'cache']);
    await d.applyDiff('C', '', layerTar([{ name: 'ok', data: 'fine' }]));
    expect(await d.getMetadata('C')).toMatchObject({ kind: 'layer' });
  }, 120_000);

  it('during remove: the layer is gone at once; the -removing leftover is finished by the next open', async () => {
    const d0 = await open();
    await d0.applyDiff('R', '', layerTar([{ name: 'x', data: 'x' }]));
    // Make the delete take long enough to be caught in the middle.
    const junk = path.join(root, 'R', 'junk');
    mkdirSync(junk);
    for (let i = 0; i < 4_000; i++) writeFileSync(path.join(junk, String(i)), '');
    await d0.cleanup(); // one opener at a time: the child's turn
    const c = child('remove', 'R');
    await until(c, () => existsSync(path.join(root, 'R-removing')), 'rename to -removing');
    await kill(c);
    expect(existsSync(path.join(root, 'R-removing'))).toBe(true);
    const d = await open();
    expect(await d.exists('R')).toBe(false);
    expect(entries()).toEqual(['cache']);
    await d.applyDiff('R', '', layerTar([{ name: 'again', data: 'y' }])); // the id is usable again
    expect(await d.exists('R')).toBe(true);
  }, 180_000);
});
