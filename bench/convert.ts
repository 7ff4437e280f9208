/**
 * `npm run bench:convert` — the tar → ext4 converter against its peers on
 * the same input, in one run, on this machine:
 *
 *   cat       `cat layer.tar > /dev/null` (the floor: reading the input)
 *   tar+mkfs  `tar -x` into a temp dir, then `mkfs.ext4 -q -b 4096 -d dir img`
 *             (what a shell script would do; needs root-ish privileges for owners)
 *   lcow      `lcow convert layer.tar out.vhd` as a whole process: the
 *             shipped CLI (bin/lcow.js → dist/, built by `npm run build`
 *             first), as a user runs it
 *   lcow (V8 defaults)  the same with LCOW_V8_DEFAULTS=1: without the two V8
 *             flags the CLI sets for itself (src/cli/lean-heap.ts), to show
 *             what they buy
 *
 * Inputs: a rootfs-like tar (files from this machine's /usr, ≥150 MiB and
 * ≥5,000 entries) and a node_modules-like tar (this repo's node_modules:
 * many small files). Median wall time and peak RSS of ≥3 runs each; ratios
 * against tar+mkfs. Timings are printed, never asserted.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULTS = 'lcow (V8 defaults)';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const work = mkdtempSync(join(process.env.BENCH_TMP ?? tmpdir(), 'lcow-bench-'));

interface Sample {
  wall: number; // seconds
  rssKiB: number;
}

/** Run argv under /usr/bin/time for the peak RSS; wall time measured here. */
function measure(argv: string[]): Sample {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
  const wall = (performance.now() - t0) / 1000;
  const err = r.stderr.toString();
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}):\n${err}`);
  const rssKiB = Number(err.trim().split('\n').at(-1));
  return { wall, rssKiB };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Files of /usr (sorted walk) until both thresholds are met; tar'd with GNU tar. */
function rootfsTar(out: string): void {
  const list = join(work, 'rootfs.list');
  const py = String.raw`
import os, sys
want_bytes, want_entries = int(sys.argv[1]), int(sys.argv[2])
total = 0; n = 0; out = []
for root, dirs, files in os.walk('/usr'):
    dirs.sort(); files.sort()
    out.append(root[1:]); n += 1
    for f in files:
        p = os.path.join(root, f)
        try: st = os.lstat(p)
        except OSError: continue
        out.append(p[1:]); n += 1; total += st.st_size if not os.path.islink(p) else 0
    if total >= want_bytes and n >= want_entries: break
open(sys.argv[3], 'w').write('\n'.join(out) + '\n')
`;
  execFileSync('python3', ['-c', py, String(200 * 1024 * 1024), '8000', list]);
  execFileSync('tar', ['-C', '/', '--no-recursion', '-T', list, '-cf', out]);
}

function countEntries(tar: string): number {
  return execFileSync('tar', ['-tf', tar], { maxBuffer: 1 << 28 })
    .toString()
    .split('\n')
    .filter(Boolean).length;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

async function main(): Promise<void> {
  const converter = join(repo, 'bin', 'lcow.js');
  const inputs: Array<{ name: string; tar: string }> = [];
  const rootfs = join(work, 'rootfs.tar');
  rootfsTar(rootfs);
  inputs.push({ name: 'rootfs (/usr)', tar: rootfs });
  const nm = join(work, 'node_modules.tar');
  execFileSync('tar', ['-C', repo, '-cf', nm, 'node_modules']);
  inputs.push({ name: 'node_modules', tar: nm });

  const rows: string[][] = [];
  for (const { name, tar } of inputs) {
    const size = statSync(tar).size;
    const entries = countEntries(tar);
    const imgSize = `${Math.ceil((size * 1.4) / 1024 / 1024) + 64}M`;
    const samples: Record<string, Sample[]> = { cat: [], 'tar+mkfs': [], lcow: [], [DEFAULTS]: [] };
    for (let i = 0; i < RUNS; i++) {
      samples.cat!.push(measure(['sh', '-c', 'cat "$1" > /dev/null', 'sh', tar]));
      const dir = join(work, 'x');
      const img = join(work, 'mkfs.img');
      mkdirSync(dir);
      samples['tar+mkfs']!.push(measure(['sh', '-c', 'tar -xf "$1" -C "$2" && mkfs.ext4 -q -F -b 4096 -d "$2" "$3" "$4"', 'sh', tar, dir, img, imgSize]));
      rmSync(dir, { recursive: true, force: true });
      rmSync(img, { force: true });
      const out = join(work, 'out.vhd');
      samples[DEFAULTS]!.push(measure(['env', 'LCOW_V8_DEFAULTS=1', process.execPath, converter, 'convert', tar, out]));
      rmSync(out, { force: true });
      samples.lcow!.push(measure([process.execPath, converter, 'convert', tar, out]));
      if (i === 0) {
        const fsck = spawnSync('e2fsck', ['-fn', out], { encoding: 'utf8' });
        if (fsck.status !== 0) console.error(`warning: e2fsck -fn found problems in the ${name} image:\n${fsck.stdout}${fsck.stderr}`);
      }
      rmSync(out, { force: true });
    }
    const base = median(samples['tar+mkfs']!.map((s) => s.wall));
    for (const tool of ['cat', 'tar+mkfs', 'lcow', DEFAULTS]) {
      const s = samples[tool]!;
      const wall = median(s.map((x) => x.wall));
      rows.push([
        name,
        `${mib(size)} MiB / ${entries}`,
        tool,
        wall.toFixed(2),
        (wall / base).toFixed(2) + '×',
        (median(s.map((x) => x.rssKiB)) / 1024).toFixed(1),
        (size / 1024 / 1024 / wall).toFixed(0),
      ]);
    }
  }
  const header = ['input', 'size / entries', 'tool', 'wall s (median)', 'vs tar+mkfs', 'peak RSS MiB', 'MiB/s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(`node ${process.version}, ${RUNS} runs each, median\n`);
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
  const empty = measure([process.execPath, '-e', '']);
  const tiny = join(work, 'one-file.tar');
  execFileSync('tar', ['-C', repo, '-cf', tiny, 'package.json']);
  const floor = measure([process.execPath, converter, 'convert', tiny, join(work, 'tiny.vhd')]);
  console.log(
    `\nfloors: \`node -e ''\` peaks at ${(empty.rssKiB / 1024).toFixed(1)} MiB; \`lcow convert\` of a one-file tar at ${(floor.rssKiB / 1024).toFixed(1)} MiB`,
  );
  console.log('targets: lcow ≤ 0.30× tar+mkfs on the rootfs tar; lcow peak RSS ≤ 64 MiB');
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(work, { recursive: true, force: true }));
