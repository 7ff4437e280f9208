/**
 * Ext4Writer.tryAdd: the same image as add() without an await for entries
 * whose bytes are at hand, false with nothing done when it cannot (an add()
 * still running, a body not in memory, a batch that would fill), and
 * failures that fail the writer as add()'s do.
 */
import { open } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import { Ext4Writer, type LayerEntry } from '../../../src/ext4/index.js';
import { TempDir, chunks, dir, dump, expectFsckClean, file, hardlink, meta, symlink } from './helpers.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());

/** A file entry whose body can be taken at once (as the tar reader's can), counting how often it was. */
function inMemoryFile(path: string, data: Buffer): Extract<LayerEntry, { kind: 'file' }> & { taken: () => number } {
  let taken = 0;
  let left: Buffer | undefined = data;
  const body = Object.assign(chunks(data), {
    takeAllNow: (): Buffer | undefined => {
      const b = left;
      left = undefined;
      if (b) taken++;
      return b;
    },
  });
  return { kind: 'file', path, tarName: path, meta: meta(), size: data.length, body, taken: () => taken };
}

/** A layer with every kind tryAdd handles, and files the batch cannot hold at once. */
function layer(inMemory: boolean): LayerEntry[] {
  const f = (path: string, data: Buffer): LayerEntry => (inMemory ? inMemoryFile(path, data) : file(path, data));
  return [
    dir('etc'),
    f('etc/small', Buffer.from('small\n')),
    f('etc/empty', Buffer.alloc(0)),
    symlink('etc/short', 'small'),
    symlink('etc/long', 'x/'.repeat(100)),
    hardlink('etc/hard', 'etc/small'),
    f('etc/big', Buffer.alloc(3 * 1024 * 1024, 7)), // over a batch: never synchronous
    ...Array.from({ length: 300 }, (_, i) => f(`etc/f${i}`, Buffer.alloc(i * 37, i))), // fills batches on the way
  ];
}

async function write(path: string, entries: LayerEntry[], useTryAdd: boolean): Promise<{ sync: number }> {
  const fh = await open(path, 'w+');
  let sync = 0;
  try {
    const w = Ext4Writer.create(fh);
    for (const e of entries) {
      if (useTryAdd && w.tryAdd(e)) sync++;
      else await w.add(e);
    }
    await w.finish();
  } finally {
    await fh.close();
  }
  return { sync };
}

describe('Ext4Writer.tryAdd', () => {
  it('writes the same image as add(), most entries without an await', async () => {
    const a = tmp.file('add.img');
    const b = tmp.file('try.img');
    await write(a, layer(false), false);
    const { sync } = await write(b, layer(true), true);
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
    expect(sync).toBeGreaterThan(250);
    expect(sync).toBeLessThan(306); // the big file and the batch boundaries went through add()
    expectFsckClean(b);
    expect(dump(b, '/etc/f299', tmp)).toEqual(Buffer.alloc(299 * 37, 299 & 0xff));
  });

  it('declines, having taken nothing, while an add() runs and for a body not in memory', async () => {
    const fh = await open(tmp.file('busy.img'), 'w+');
    try {
      const w = Ext4Writer.create(fh);
      const running = w.add(dir('a'));
      const f = inMemoryFile('a/f', Buffer.from('x'));
      expect(w.tryAdd(f)).toBe(false);
      expect(f.taken()).toBe(0);
      await running;
      expect(w.tryAdd(file('a/streamed', 'y'))).toBe(false); // no takeAllNow: add() streams it
      expect(w.tryAdd(f)).toBe(true);
      expect(f.taken()).toBe(1);
      await w.finish();
    } finally {
      await fh.close();
    }
  });

  it('throws what add() would reject with, and the writer stays failed', async () => {
    const fh = await open(tmp.file('fail.img'), 'w+');
    try {
      const w = Ext4Writer.create(fh);
      expect(w.tryAdd(dir('d'))).toBe(true);
      let caught: unknown;
      try {
        w.tryAdd({ ...inMemoryFile('d/f', Buffer.from('four')), size: 9 });
      } catch (err) {
        caught = err;
      }
      expect(isLcowError(caught, 'EBADTAR')).toBe(true);
      expect((caught as Error).message).toMatch(/truncated \(4 of 9 bytes\)/);
      expect(w.tryAdd(dir('e'))).toBe(false);
      await expect(w.add(dir('e'))).rejects.toMatchObject({ code: 'EINVAL' });
    } finally {
      await fh.close();
    }
  });
});
