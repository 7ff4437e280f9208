/**
 * `npx tsx bench/host-diff.ts` — the host-side verbs on the two shapes that
 * used to break them, against GNU tar on the same image mounted by the
 * kernel (the peer: what a VM-based diff does):
 *
 *   wide  one directory of BENCH_WIDE (default 1,000,000) empty files
 *   deep  a chain of BENCH_DEEP (default 3,000) directories and one file
 *
 * Each verb runs in its own process (the CLI's way: one verb, one process):
 * diff (layerToTar, to /dev/null), changes, diffSize, walk. Wall time, CPU
 * time and peak RSS (getrusage via /usr/bin/time), and the ratio of diff to
 * `tar -cf /dev/null` over a loop mount (root only; skipped otherwise).
 * Timings are printed, never asserted.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timeProcess, type ProcessSample } from './measure.js';
import { convertTarToExt4 } from '../src/layer/index.js';
import { END_OF_ARCHIVE, encodeTarItem, padding } from '../src/tar/index.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(process.env.BENCH_TMP ?? tmpdir(), 'lcow-bench-hd-'));
const WIDE = Number(process.env.BENCH_WIDE ?? 1_000_000);
const DEEP = Number(process.env.BENCH_DEEP ?? 3_000);
const T = { sec: 1_700_000_000, nsec: 0 };

/** A tar of `names` (directories first where given), written with src/tar's encoder. */
async function writeTar(file: string, entries: Iterable<{ name: string; dir: boolean; body?: Buffer }>): Promise<void> {
  const out = createWriteStream(file);
  const write = (b: Buffer): Promise<void> | void => {
    if (!out.write(b)) return new Promise((r) => out.once('drain', r));
  };
  for (const e of entries) {
    const body = e.body ?? Buffer.alloc(0);
    await write(encodeTarItem({ name: e.name, type: e.dir ? 'dir' : 'file', mode: e.dir ? 0o755 : 0o644, uid: 0, gid: 0, size: body.length, mtime: T }));
    if (body.length) await write(Buffer.concat([body, padding(body.length)]));
  }
  await write(END_OF_ARCHIVE);
  await new Promise((r) => out.end(r));
}

function* wide(): Generator<{ name: string; dir: boolean }> {
  yield { name: 'big', dir: true };
  for (let i = 0; i < WIDE; i++) yield { name: `big/file-${String(i).padStart(7, '0')}`, dir: false };
}

function* deep(): Generator<{ name: string; dir: boolean; body?: Buffer }> {
  let p = '';
  for (let i = 0; i < DEEP; i++) {
    p = p ? `${p}/d` : 'd';
    yield { name: p, dir: true };
  }
  yield { name: `${p}/leaf`, dir: false, body: Buffer.from('bottom\n') };
}

const CHILD = `
const [verb, image] = process.argv.slice(-2);
const hd = await import(${JSON.stringify(join(repo, 'src/driver/host-diff/to-tar.ts'))});
const ch = await import(${JSON.stringify(join(repo, 'src/driver/host-diff/changes.ts'))});
const layer = await import(${JSON.stringify(join(repo, 'src/layer/index.ts'))});
let result;
if (verb === 'diff') { let n = 0; for await (const c of hd.layerToTar(image)) n += c.length; result = n + ' tar bytes'; }
else if (verb === 'changes') result = (await ch.changes(image, [])).length + ' changes';
else if (verb === 'diffSize') result = (await ch.diffSize(image, [])) + ' bytes';
else { const img = await layer.openExt4Image(image); let n = 0; for await (const _ of img.walk()) n++; result = n + ' entries'; }
console.log(result);
`;

function verb(name: string, image: string): ProcessSample {
  const script = join(work, 'verb.mts');
  writeFileSync(script, CHILD);
  return timeProcess([process.execPath, '--import', 'tsx', script, name, image], { cwd: repo });
}

/** GNU tar over the kernel's view of the image: the peer for diff. */
function peerTar(image: string): ProcessSample | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const mnt = join(work, 'mnt');
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-o', 'loop,ro', image, mnt]);
  try {
    return timeProcess(['tar', '--format=posix', '-C', mnt, '-cf', '/dev/null', '.']);
  } finally {
    execFileSync('umount', [mnt]);
  }
}

try {
  for (const [shape, entries] of [
    ['wide', wide()],
    ['deep', deep()],
  ] as const) {
    const tar = join(work, `${shape}.tar`);
    const image = join(work, `${shape}.img`);
    await writeTar(tar, entries);
    await convertTarToExt4(createReadStream(tar), image);
    rmSync(tar);
    console.log(`\n${shape}: ${shape === 'wide' ? `${WIDE} files in one directory` : `${DEEP} nested directories`}`);
    const samples: Record<string, ProcessSample> = {};
    for (const v of ['diff', 'changes', 'diffSize', 'walk']) {
      const s = (samples[v] = verb(v, image));
      console.log(
        `  ${v.padEnd(9)} ${s.wall.toFixed(1).padStart(6)} s wall ${s.cpu.toFixed(1).padStart(6)} s cpu ${(s.rssKiB / 1024).toFixed(0).padStart(5)} MiB rss  (${s.stdout})`,
      );
    }
    const peer = peerTar(image);
    if (peer) {
      console.log(
        `  ${'tar -c'.padEnd(9)} ${peer.wall.toFixed(1).padStart(6)} s wall ${peer.cpu.toFixed(1).padStart(6)} s cpu ${(peer.rssKiB / 1024).toFixed(0).padStart(5)} MiB rss  (GNU tar over a loop mount)`,
      );
      console.log(`  diff / tar -c: ${(samples.diff!.wall / peer.wall).toFixed(1)}× wall`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
