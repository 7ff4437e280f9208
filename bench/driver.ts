/**
 * npm run bench:driver — the storage driver's costs, safe and global mode side
 * by side, measured in one run on the same input. Prints ratios; never passes
 * or fails on absolute times.
 *
 *   applyDiff ×10     a 10-layer chain (each ~2 MiB in 40 files), worker-thread conversion
 *   createReadWrite   the first (makes the template) and the mean of 5 later (copies)
 *   get → read        get, first readFile (boots/mounts), put; cold and again ("warm")
 *   diff/changes ×20  10 diffs drained + 10 changes over the chain's top layers
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { LcowDriver } from '../src/driver/index.js';

const LAYERS = 10;

function layer(i: number): Readable {
  const pack = tar.pack();
  pack.entry({ name: `l${i}/`, type: 'directory', mode: 0o755 });
  for (let f = 0; f < 40; f++) pack.entry({ name: `l${i}/f${f}`, mode: 0o644 }, Buffer.alloc(50 * 1024, (i * 40 + f) & 0xff));
  if (i > 0) pack.entry({ name: `l${i - 1}/.wh.f0`, mode: 0o644 }, Buffer.alloc(0));
  pack.finalize();
  return pack as unknown as Readable;
}

async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

type Row = Record<string, number>;

async function measure(global: boolean): Promise<Row> {
  const root = await mkdtemp(path.join(tmpdir(), `lcow-bench-${global ? 'global' : 'safe'}-`));
  const d = await LcowDriver.open(root, { options: global ? ['lcow.globalmode=true'] : [] });
  const row: Row = {};
  try {
    row['applyDiff ×10 (chain)'] = await time(async () => {
      for (let i = 0; i < LAYERS; i++) await d.applyDiff(`l${i}`, i ? `l${i - 1}` : '', layer(i));
    });
    const top = `l${LAYERS - 1}`;
    row['createReadWrite, first'] = await time(() => d.createReadWrite('rw0', top));
    const later: number[] = [];
    for (let i = 1; i <= 5; i++) later.push(await time(() => d.createReadWrite(`rw${i}`, top)));
    row['createReadWrite, later (mean of 5)'] = later.reduce((a, b) => a + b) / later.length;
    for (const label of ['get → first read, cold', 'get → first read, again']) {
      row[label] = await time(async () => {
        const h = await d.get('rw0');
        await h.readFile(`/l${LAYERS - 1}/f1`);
        await d.put('rw0');
      });
    }
    row['diff/changes ×20'] = await time(async () => {
      for (let i = 0; i < 10; i++) {
        for await (const chunk of await d.diff(`l${LAYERS - 1 - (i % 3)}`)) void chunk;
        await d.changes(`l${LAYERS - 1 - (i % 3)}`, '');
      }
    });
  } finally {
    await d.cleanup();
    await rm(root, { recursive: true, force: true });
  }
  return row;
}

const safe = await measure(false);
const global = await measure(true);
const rows = Object.keys(safe);
const w = Math.max(...rows.map((r) => r.length));
const ms = (n: number) => `${n.toFixed(0)} ms`.padStart(10);
console.log(`${'operation'.padEnd(w)}  ${'safe'.padStart(10)}  ${'global'.padStart(10)}  ${'safe/global'.padStart(11)}`);
console.log(`${'-'.repeat(w)}  ${'-'.repeat(10)}  ${'-'.repeat(10)}  ${'-'.repeat(11)}`);
for (const r of rows) console.log(`${r.padEnd(w)}  ${ms(safe[r]!)}  ${ms(global[r]!)}  ${(safe[r]! / global[r]!).toFixed(2).padStart(11)}`);
