/**
 * The writer's memory is its file tree's metadata and nothing else, and
 * that metadata is compact: a bounded number of heap bytes per entry,
 * measured after a full GC around 20,000 adds (small files, one directory
 * each per 100, no xattrs — the common shape of a layer). File data never
 * stays in memory (see convert-memory.test.ts for the RSS side).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import type { EntryMeta, LayerEntry } from '../../../src/ext4/index.js';
import { Ext4Writer } from '../../../src/ext4/index.js';
import { e2fsck } from '../../helpers/tar-fixtures.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const dir = mkdtempSync(join(tmpdir(), 'lcow-meta-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function meta(i: number): EntryMeta {
  const t = { sec: 1_700_000_000 + i, nsec: 0 };
  return { mode: 0o644, uid: 0, gid: 0, atime: t, mtime: t, ctime: t, crtime: t, xattrs: new Map() };
}

async function* oneByte(): AsyncGenerator<Buffer> {
  yield Buffer.from('x');
}

/** Heap bytes per entry the writer keeps for 20,000 small files; `metaOf(i)` gives entry i's metadata. */
async function bytesPerEntry(name: string, metaOf: (i: number) => EntryMeta): Promise<number> {
  const fh = await open(join(dir, name), 'w+');
  try {
    const writer = Ext4Writer.create(fh);
    const entries = 20_000;
    const before = heapAfterGc();
    for (let i = 0; i < entries; i++) {
      const d = `dir-${Math.floor(i / 100)}`;
      const entry: LayerEntry =
        i % 100 === 0
          ? { kind: 'dir', path: d, tarName: d, meta: metaOf(i) }
          : { kind: 'file', path: `${d}/file-${String(i).padStart(6, '0')}.txt`, tarName: `f${i}`, meta: metaOf(i), size: 1, body: oneByte() };
      await writer.add(entry);
    }
    const perEntry = (heapAfterGc() - before) / entries;
    await writer.finish();
    return perEntry;
  } finally {
    await fh.close();
  }
}

describe('ext4 writer metadata memory', () => {
  it('keeps under 400 heap bytes per entry for 20,000 small files, each with a time of its own', async () => {
    const perEntry = await bytesPerEntry('meta.img', meta);
    console.log(`writer metadata: ${perEntry.toFixed(0)} heap bytes per entry`);
    expect(perEntry).toBeGreaterThan(50); // sanity: the measurement saw the tree
    expect(perEntry).toBeLessThan(400);
    expect(e2fsck(join(dir, 'meta.img')).status).toBe(0);
  }, 120_000);

  it('keeps one metadata record for a run of entries with equal metadata (each entry its own, equal objects)', async () => {
    const distinct = await bytesPerEntry('meta-distinct.img', meta);
    const shared = await bytesPerEntry('meta-shared.img', () => meta(0));
    console.log(`writer metadata: ${shared.toFixed(0)} heap bytes per entry with equal metadata, ${distinct.toFixed(0)} without`);
    // A NodeMeta and its Timestamp are ~120 bytes of an entry's ~340 (MetaInterner, namespace.ts).
    expect(distinct - shared).toBeGreaterThan(80);
    expect(e2fsck(join(dir, 'meta-shared.img')).status).toBe(0);
  }, 120_000);
});
