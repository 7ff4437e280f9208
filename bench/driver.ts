/**
 * npm run bench:driver — the storage driver's costs, measured from dist/
 * (built first by the npm script), the way an engine runs the library.
 * Prints times and ratios; never passes or fails on absolute times.
 *
 * 1. applyDiff against the converter itself, on the same small layer
 *    (40 files, 2 MiB, arriving in 64 KiB chunks as from a registry stream):
 *      in-process   convertTarToExt4 on this thread (it fsyncs the image and its directory)
 *      applyDiff    the driver's verb: a conversion worker (kept between layers),
 *                   the layer's work dir, its chain file, the rename into place
 *    The first applyDiff starts the worker; the ratio is taken on the later
 *    ones (median), and what durability costs (fsync of an image of the same
 *    size and of its directory) is printed beside it.
 * 2. Safe and global mode side by side (skipped with BENCH_NO_VM=1: these boot
 *    service VMs):
 *      applyDiff ×10     a 10-layer chain
 *      createReadWrite   the first (makes the template) and the mean of 5 later (copies)
 *      get → read        get, first readFile (boots/mounts), put; cold and again ("warm")
 *      diff/changes ×20  10 diffs drained + 10 changes over the chain's top layers
 *    and safe mode once more with VM templates off (LCOW_QEMU_TEMPLATES=0):
 *    every service VM a cold boot, the reference the template start is
 *    judged against (target: safe `get → first read, again` ≤ 0.5× of it).
 */
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import tar from 'tar-stream';
import { median } from './measure.js';

type DriverModule = typeof import('../src/driver/index.js');
type LayerModule = typeof import('../src/layer/index.js');

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const { LcowDriver } = (await import(pathToFileURL(path.join(dist, 'driver', 'index.js')).href)) as DriverModule;
const { convertTarToExt4 } = (await import(pathToFileURL(path.join(dist, 'layer', 'index.js')).href)) as LayerModule;

const LAYERS = 10;
const CHUNK = 64 * 1024;

async function layerTar(i: number): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: `l${i}/`, type: 'directory', mode: 0o755 });
  for (let f = 0; f < 40; f++) pack.entry({ name: `l${i}/f${f}`, mode: 0o644 }, Buffer.alloc(50 * 1024, (i * 40 + f) & 0xff));
  if (i > 0) pack.entry({ name: `l${i - 1}/.wh.f0`, mode: 0o644 }, Buffer.alloc(0));
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const c of pack as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

/** The tar as a stream of CHUNK-sized pieces. */
function chunked(b: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let at = 0; at < b.length; at += CHUNK) parts.push(b.subarray(at, at + CHUNK));
  return Readable.from(parts);
}

async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const ms = (n: number) => `${n.toFixed(1)} ms`;

async function applyDiffVsConvert(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'lcow-bench-apply-'));
  const RUNS = Number(process.env.BENCH_RUNS ?? 15);
  try {
    const tarBytes = await layerTar(1);
    const inProcess: number[] = [];
    for (let i = 0; i < RUNS + 2; i++) {
      const t = await time(() => convertTarToExt4(chunked(tarBytes), path.join(root, `in-process-${i}.vhd`), { whiteouts: true }));
      if (i >= 2) inProcess.push(t); // the first ones load and warm the converter
    }
    const d = await LcowDriver.open(path.join(root, 'data'));
    const applied: number[] = [];
    let first = 0;
    try {
      first = await time(() => d.applyDiff('first', '', chunked(tarBytes)));
      for (let i = 0; i < RUNS; i++) applied.push(await time(() => d.applyDiff(`layer${i}`, '', chunked(tarBytes))));
    } finally {
      await d.cleanup();
    }
    // Durability: fsync of an image of the same size (freshly written, so dirty) and of its directory.
    const size = (await stat(path.join(root, 'in-process-2.vhd'))).size;
    const syncs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const file = path.join(root, `sync-${i}.img`);
      await writeFile(file, Buffer.alloc(Math.min(size, 8 * 1024 * 1024), 1));
      syncs.push(
        await time(async () => {
          const fh = await open(file, 'r+');
          await fh.sync();
          await fh.close();
          const dh = await open(root, 'r');
          await dh.sync();
          await dh.close();
        }),
      );
    }
    const conv = median(inProcess);
    const apply = median(applied);
    console.log(`small layer (${(tarBytes.length / 1024 / 1024).toFixed(1)} MiB tar, 42 entries, ${CHUNK / 1024} KiB chunks), from dist/, medians of ${RUNS}:`);
    console.log(`  convertTarToExt4 in-process   ${ms(conv)}  (includes its fsync of the image and its directory)`);
    console.log(`  applyDiff, first (new worker) ${ms(first)}`);
    console.log(`  applyDiff, later (same worker) ${ms(apply)}`);
    console.log(`  durability: fsync of a ${(size / 1024 / 1024).toFixed(1)} MiB image + its directory  ${ms(median(syncs))}`);
    console.log(`  applyDiff / in-process convert: ${(apply / conv).toFixed(2)}×  (target ≤ 1.3×)`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

type Row = Record<string, number>;

async function measure(global: boolean, templates = true): Promise<Row> {
  // read by the QEMU backend at each VM's creation
  if (templates) delete process.env.LCOW_QEMU_TEMPLATES;
  else process.env.LCOW_QEMU_TEMPLATES = '0';
  const root = await mkdtemp(path.join(tmpdir(), `lcow-bench-${global ? 'global' : 'safe'}-`));
  const d = await LcowDriver.open(root, { options: global ? ['lcow.globalmode=true'] : [] });
  const row: Row = {};
  try {
    const tars = await Promise.all(Array.from({ length: LAYERS }, (_, i) => layerTar(i)));
    row['applyDiff ×10 (chain)'] = await time(async () => {
      for (let i = 0; i < LAYERS; i++) await d.applyDiff(`l${i}`, i ? `l${i - 1}` : '', chunked(tars[i]!));
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

await applyDiffVsConvert();
if (process.env.BENCH_NO_VM !== '1') {
  const safe = await measure(false);
  const global = await measure(true);
  const coldSafe = await measure(false, false);
  const rows = Object.keys(safe);
  const w = Math.max(...rows.map((r) => r.length));
  const cell = (n: number) => `${n.toFixed(0)} ms`.padStart(10);
  const head = ['safe', 'global', 'safe/global', 'safe, no templates'];
  console.log(`\n${'operation'.padEnd(w)}  ${head.map((h) => h.padStart(10)).join('  ')}`);
  console.log(`${'-'.repeat(w)}  ${head.map((h) => '-'.repeat(Math.max(10, h.length))).join('  ')}`);
  for (const r of rows) {
    console.log(
      `${r.padEnd(w)}  ${cell(safe[r]!)}  ${cell(global[r]!)}  ${(safe[r]! / global[r]!).toFixed(2).padStart(11)}  ${cell(coldSafe[r]!).padStart(18)}`,
    );
  }
  const again = 'get → first read, again';
  console.log(`\nsafe ${again}: ${(safe[again]! / coldSafe[again]!).toFixed(2)}× of the same with a cold boot (target ≤ 0.5×)`);
}
