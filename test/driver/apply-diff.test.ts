// The conversion worker: a real worker thread running the real converter.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { LcowError } from '../../src/errors.js';
import type { Worker } from 'node:worker_threads';
import { ConversionWorkers, convertInWorker } from '../../src/driver/apply-diff.js';

const dir = mkdtempSync(path.join(tmpdir(), 'apply-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function smallTar(): Readable {
  const p = tar.pack();
  p.entry({ name: 'etc/', type: 'directory', mode: 0o755 });
  p.entry({ name: 'etc/hello', mode: 0o644 }, 'hello world\n');
  p.entry({ name: 'big', mode: 0o644 }, Buffer.alloc(3 * 1024 * 1024, 7)); // several chunks: exercises the ack window
  p.finalize();
  return p as unknown as Readable;
}

export function e2fsckClean(vhd: string): string {
  const img = vhd + '.img';
  copyFileSync(vhd, img);
  truncateSync(img, statSync(vhd).size - 512);
  try {
    return execFileSync('e2fsck', ['-fn', img], { encoding: 'utf8' });
  } finally {
    rmSync(img, { force: true });
  }
}

describe('convertInWorker', () => {
  it('converts a tar in a worker thread into an image e2fsck accepts, returning its size', async () => {
    const out = path.join(dir, 'layer.vhd');
    const { sizeBytes } = await convertInWorker(smallTar(), out);
    expect(sizeBytes).toBe(statSync(out).size);
    e2fsckClean(out); // throws on findings (non-zero exit)
    expect(execFileSync('debugfs', ['-R', 'cat /etc/hello', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe('hello world\n');
  });

  it('a bad tar is a typed error and leaves no output', async () => {
    const out = path.join(dir, 'bad.vhd');
    const garbage = Readable.from([Buffer.alloc(512, 0x41), Buffer.alloc(1024)]);
    await expect(convertInWorker(garbage, out)).rejects.toMatchObject({ code: 'EBADTAR' });
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('bad'))).toEqual([]);
  });

  it('an input stream error keeps its LcowError code and leaves no output', async () => {
    const out = path.join(dir, 'cut.vhd');
    async function* cut() {
      yield Buffer.alloc(512);
      throw new LcowError('EBADIMAGE', 'digest mismatch', {});
    }
    await expect(convertInWorker(cut(), out)).rejects.toMatchObject({ code: 'EBADIMAGE' });
    expect(readdirSync(dir).filter((n) => n.includes('cut'))).toEqual([]);
  });
});

describe('ConversionWorkers', () => {
  /** A pool that records its threads and when each one exited. */
  function observed(options: { idleMs?: number } = {}) {
    const spawned: Worker[] = [];
    const exited = new Set<Worker>();
    const pool = new ConversionWorkers({
      ...options,
      onSpawn: (w) => {
        spawned.push(w);
        w.once('exit', () => exited.add(w));
      },
    });
    return { pool, spawned, exited };
  }

  it('several layers share one worker thread, and close() ends it', async () => {
    const { pool, spawned, exited } = observed();
    for (let i = 0; i < 3; i++) {
      const out = path.join(dir, `reuse-${i}.vhd`);
      const { sizeBytes } = await pool.convert(smallTar(), out);
      expect(sizeBytes).toBe(statSync(out).size);
    }
    // A failed conversion is an answer, not a crash: the thread stays in use.
    await expect(pool.convert(Readable.from([Buffer.alloc(512, 0x41), Buffer.alloc(1024)]), path.join(dir, 'reuse-bad.vhd'))).rejects.toMatchObject({
      code: 'EBADTAR',
    });
    await pool.convert(smallTar(), path.join(dir, 'reuse-after-bad.vhd'));
    expect(spawned).toHaveLength(1);
    expect(pool.threads).toBe(1);
    await pool.close();
    expect(pool.threads).toBe(0);
    expect(exited.size).toBe(1);
  });

  it('a crashed worker fails only the layer in flight; the next layer gets a new worker', async () => {
    const { pool, spawned, exited } = observed();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* stalled() {
      yield Buffer.alloc(512, 0); // not yet a whole archive
      await gate;
    }
    const out = path.join(dir, 'crash.vhd');
    const inFlight = pool.convert(stalled(), out);
    await new Promise((r) => setTimeout(r, 200));
    expect(spawned).toHaveLength(1);
    // A message the worker cannot handle throws inside it: an uncaught error, the thread dies.
    spawned[0]!.postMessage({ t: 'chunk', job: 1, buf: null });
    await expect(inFlight).rejects.toMatchObject({ code: 'EIO' });
    release();
    // No image; the dead thread's temporary file stays (the driver converts inside a work dir it removes).
    expect(existsSync(out)).toBe(false);
    const next = path.join(dir, 'after-crash.vhd');
    expect((await pool.convert(smallTar(), next)).sizeBytes).toBe(statSync(next).size);
    expect(spawned).toHaveLength(2);
    expect(pool.threads).toBe(1);
    await pool.close();
    expect(exited.size).toBe(2);
  });

  it('close() fails the layer in flight with ECANCELED and leaves no thread', async () => {
    const { pool, exited, spawned } = observed();
    async function* endless() {
      yield Buffer.alloc(512, 0);
      await new Promise(() => undefined);
    }
    const inFlight = pool.convert(endless(), path.join(dir, 'closed.vhd'));
    inFlight.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await pool.close();
    await expect(inFlight).rejects.toMatchObject({ code: 'ECANCELED' });
    expect(pool.threads).toBe(0);
    expect(exited.size).toBe(spawned.length);
  });

  it('an idle worker ends by itself', async () => {
    const { pool, exited } = observed({ idleMs: 100 });
    await pool.convert(smallTar(), path.join(dir, 'idle.vhd'));
    expect(pool.threads).toBe(1);
    await new Promise((r) => setTimeout(r, 600));
    expect(pool.threads).toBe(0);
    expect(exited.size).toBe(1);
  });
});
