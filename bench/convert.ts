/**
 * `npm run bench:convert` — the tar → ext4 converter against its peers on
 * the same input, in one run, on this machine, as whole processes:
 *
 *   cat       `cat layer.tar > /dev/null` (the floor: reading the input)
 *   tar+mkfs  `tar -x` into a temp dir, then `mkfs.ext4 -q -b 4096 -d dir img`
 *             (what a shell script would do; needs root-ish privileges for owners)
 *   go        hcsshim's tar2ext4 with `-vhd` (and `-overlay`, its whiteout conversion, where we convert
 *             whiteouts), when PEER_TAR2EXT4 names its binary. It is in no
 *             package archive: build it yourself; it is never part of this repo.
 *   lcow      `lcow convert layer.tar out.vhd` — the shipped CLI (bin/lcow.cjs →
 *             dist/, built by `npm run build` first), as a user runs it. It
 *             fsyncs the image and its directory; the Go tool does not.
 *   lcow --no-sync  the same without the fsyncs: like for like with the Go tool
 *   lcow --no-sync, no CA env  only when NODE_EXTRA_CA_CERTS is set: the same
 *             without it (Node parses that file at every start; see CA_ENV)
 *   lcow (V8 defaults)  LCOW_V8_DEFAULTS=1: without the V8 flags the CLI sets for
 *             itself (src/cli/lean-heap.ts), to show what they buy
 *   go | and lcow --no-sync |  the layer through a pipe (`cat layer.tar | …`, the
 *             Go tool reading its stdin, lcow `-`), on the plain tars: how a
 *             pull that streams a decompressed layer feeds a converter. Their
 *             "vs go" is against `go |`; both include cat's CPU.
 *
 * Inputs: a rootfs-like tar (files from this machine's /usr, ≥150 MiB and
 * ≥5,000 entries), a node_modules-like tar (this repo's node_modules: many
 * small files), and an edge-case OCI layer: 10,000 entries of every kind
 * (long names, links, xattrs, fifos, whiteouts, opaque dirs, ~200 MiB of
 * data) around one 3 GiB sparse file, in GNU tar's PAX format (converted
 * with whiteouts on both sides). Medians of ≥3 runs (BENCH_RUNS) of wall
 * time, CPU time (user+sys) and peak RSS; ratios against tar+mkfs and the Go
 * tool. Timings are printed, never asserted. Every timed row starts after a
 * `sync` (not timed): no row pays for another's dirty pages being written back.
 * BENCH_VERBOSE=1 prints every run's wall and CPU time too (to see the spread).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, timeProcess, type ProcessSample } from './measure.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULTS = 'lcow (V8 defaults)';
const NO_SYNC = 'lcow --no-sync';
const GO_PIPE = 'go |';
const LCOW_PIPE = 'lcow --no-sync |';
/**
 * NODE_EXTRA_CA_CERTS makes every Node process load and parse that CA file
 * before it runs a line of JavaScript (Node 20 does it at start-up, whether
 * or not the process ever opens a TLS connection): 40 ms per process on this
 * project's machine, where the environment sets it. The lcow rows run in the
 * environment as given, as a user's shell would; when the variable is set,
 * one more row runs the same command without it, to show what it costs.
 */
const CA_ENV = process.env.NODE_EXTRA_CA_CERTS ? 'NODE_EXTRA_CA_CERTS' : undefined;
const NO_CA = 'lcow --no-sync, no CA env';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PEER = process.env.PEER_TAR2EXT4;
const work = mkdtempSync(join(process.env.BENCH_TMP ?? tmpdir(), 'lcow-bench-'));

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

/**
 * The edge-case layer: a tree of every entry kind a layer holds, around one
 * 3 GiB sparse file (three small data regions), tar'd by GNU tar as PAX with
 * sparse maps and xattrs. Devices need privileges: made when mknod works.
 */
function edgeTar(out: string): void {
  const tree = join(work, 'edge');
  const py = String.raw`
import os, sys, random
root = sys.argv[1]
rnd = random.Random(11)
os.makedirs(root)
def path(*p): return os.path.join(root, *p)
# one 3 GiB sparse file: data at the start, the middle and the end
with open(path('sparse.img'), 'wb') as f:
    f.truncate(3 << 30)
    for off in (0, 3 << 29, (3 << 30) - 65536):
        f.seek(off); f.write(rnd.randbytes(65536))
n = 1
for d in range(100):
    dd = path('d%03d' % d); os.makedirs(dd); n += 1
    for i in range(20):
        name = os.path.join(dd, 'f%d' % i)
        size = rnd.choice((0, 100, 4096, 5000, 70000)) if i % 10 else 1024 * 1024
        with open(name, 'wb') as f: f.write(rnd.randbytes(size))
        if i % 5 == 0: os.setxattr(name, 'user.note', b'x' * (i + 1))
        n += 1
        if i % 7 == 0:
            with open(os.path.join(dd, 'long-' + 'n' * 120 + '-%d' % i), 'wb') as f: f.write(b'long name')
            n += 1
    for i in range(20):
        os.symlink('f%d' % i if i % 3 else '../' + 'x' * 150, os.path.join(dd, 's%d' % i)); n += 1
    for i in range(10):
        os.link(os.path.join(dd, 'f%d' % (i + 1)), os.path.join(dd, 'h%d' % i)); n += 1
    for i in range(5):
        os.mkfifo(os.path.join(dd, 'p%d' % i)); n += 1
    for i in range(15):
        open(os.path.join(dd, '.wh.gone%d' % i), 'wb').close(); n += 1
    op = os.path.join(dd, 'opaque'); os.makedirs(op); open(os.path.join(op, '.wh..wh..opq'), 'wb').close(); n += 2
    for i in range(28):
        sub = os.path.join(dd, 'sub%d' % i); os.makedirs(sub); n += 1
    try:
        os.mknod(os.path.join(dd, 'null'), 0o20666, os.makedev(1, 3)); n += 1
    except PermissionError:
        pass
print(n)
`;
  execFileSync('python3', ['-c', py, tree]);
  execFileSync('tar', ['-C', tree, '--sparse', '--xattrs', '--format=pax', '-cf', out, '.']);
  rmSync(tree, { recursive: true, force: true });
}

/**
 * One timed row, started on a quiet page cache: `sync` first (not timed), so
 * no run pays for the kernel writing back what an earlier one left dirty
 * (tar+mkfs leaves over a GiB of it, the inputs made above some hundreds of
 * MiB; the flusher writes it back 30 s later, in the middle of whichever rows
 * are running then, on two cores).
 */
function timedOnQuietCache(argv: string[]): ProcessSample {
  execFileSync('sync');
  return timeProcess(argv);
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

interface Input {
  name: string;
  tar: string;
  whiteouts: boolean;
}

async function main(): Promise<void> {
  const converter = join(repo, 'bin', 'lcow.cjs');
  const inputs: Input[] = [];
  const rootfs = join(work, 'rootfs.tar');
  rootfsTar(rootfs);
  inputs.push({ name: 'rootfs (/usr)', tar: rootfs, whiteouts: false });
  const nm = join(work, 'node_modules.tar');
  // In a git worktree node_modules may be a symlink: tar the directory it names.
  const modules = realpathSync(join(repo, 'node_modules'));
  execFileSync('tar', ['-C', dirname(modules), '-cf', nm, basename(modules)]);
  inputs.push({ name: 'node_modules', tar: nm, whiteouts: false });
  const edge = join(work, 'edge.tar');
  edgeTar(edge);
  inputs.push({ name: 'edge + 3 GiB sparse', tar: edge, whiteouts: true });

  const allTools = ['cat', 'tar+mkfs', ...(PEER ? ['go'] : []), 'lcow', NO_SYNC, ...(CA_ENV ? [NO_CA] : []), DEFAULTS, ...(PEER ? [GO_PIPE] : []), LCOW_PIPE];
  const rows: string[][] = [];
  const syncCosts: string[] = [];
  for (const { name, tar, whiteouts } of inputs) {
    // Piped rows for the plain tars only: on the edge layer the Go tool's 3 GiB of zeros would be written twice more.
    const tools = whiteouts ? allTools.filter((t) => t !== GO_PIPE && t !== LCOW_PIPE) : allTools;
    const size = statSync(tar).size;
    const entries = countEntries(tar);
    const imgSize = `${Math.ceil((size * 1.4) / 1024 / 1024) + 64}M`;
    const samples: Record<string, ProcessSample[]> = Object.fromEntries(tools.map((t) => [t, []]));
    const lcowArgs = ['convert', ...(whiteouts ? ['--whiteouts'] : []), tar];
    const out = join(work, 'out.vhd');
    for (let i = 0; i < RUNS; i++) {
      samples.cat!.push(timedOnQuietCache(['sh', '-c', 'cat "$1" > /dev/null', 'sh', tar]));
      const dir = join(work, 'x');
      const img = join(work, 'mkfs.img');
      mkdirSync(dir);
      samples['tar+mkfs']!.push(
        timedOnQuietCache(['sh', '-c', 'tar -xf "$1" -C "$2" && mkfs.ext4 -q -F -b 4096 -d "$2" "$3" "$4"', 'sh', tar, dir, img, imgSize]),
      );
      rmSync(dir, { recursive: true, force: true });
      rmSync(img, { force: true });
      if (PEER) {
        samples.go!.push(timedOnQuietCache([PEER, '-i', tar, '-o', out, '-vhd', ...(whiteouts ? ['-overlay'] : [])]));
        rmSync(out, { force: true });
      }
      samples[DEFAULTS]!.push(timedOnQuietCache(['env', 'LCOW_V8_DEFAULTS=1', process.execPath, converter, ...lcowArgs, out]));
      rmSync(out, { force: true });
      samples[NO_SYNC]!.push(timedOnQuietCache([process.execPath, converter, ...lcowArgs, '--no-sync', out]));
      rmSync(out, { force: true });
      if (CA_ENV) {
        samples[NO_CA]!.push(timedOnQuietCache(['env', '-u', CA_ENV, process.execPath, converter, ...lcowArgs, '--no-sync', out]));
        rmSync(out, { force: true });
      }
      samples.lcow!.push(timedOnQuietCache([process.execPath, converter, ...lcowArgs, out]));
      if (i === 0) {
        // The image without its footer: e2fsck reads the file as a raw file system.
        const raw = join(work, 'check.img');
        execFileSync(process.execPath, [converter, ...lcowArgs, '--no-vhd', '--no-sync', raw]);
        const fsck = spawnSync('e2fsck', ['-fn', raw], { encoding: 'utf8' });
        if (fsck.status !== 0) console.error(`warning: e2fsck -fn found problems in the ${name} image:\n${fsck.stdout}${fsck.stderr}`);
        const used = Number(execFileSync('du', ['-k', out]).toString().split('\t')[0]) * 1024;
        if (name.includes('sparse'))
          console.error(`${name}: image ${mib(statSync(out).size)} MiB long, ${mib(used)} MiB on disk (the sparse file stays sparse)`);
        rmSync(raw, { force: true });
      }
      if (tools.includes(LCOW_PIPE)) {
        rmSync(out, { force: true });
        if (PEER) {
          samples[GO_PIPE]!.push(timedOnQuietCache(['sh', '-c', 'cat "$1" | "$2" -o "$3" -vhd', 'sh', tar, PEER, out]));
          rmSync(out, { force: true });
        }
        samples[LCOW_PIPE]!.push(timedOnQuietCache(['sh', '-c', 'cat "$1" | "$2" "$3" convert - "$4" --no-sync', 'sh', tar, process.execPath, converter, out]));
      }
      rmSync(out, { force: true });
    }
    if (process.env.BENCH_VERBOSE === '1') {
      for (const tool of tools)
        console.error(`${name} ${tool}: ${samples[tool]!.map((x) => `${x.wall.toFixed(3)}/${x.cpu.toFixed(2)}`).join(' ')} (wall/cpu s per run)`);
    }
    const synced = median(samples.lcow!.map((s) => s.wall));
    const unsynced = median(samples[NO_SYNC]!.map((s) => s.wall));
    syncCosts.push(`${name} ${(synced - unsynced).toFixed(2)} s`);
    const base = median(samples['tar+mkfs']!.map((s) => s.wall));
    const go = PEER ? median(samples.go!.map((s) => s.wall)) : undefined;
    const goPipe = PEER && tools.includes(GO_PIPE) ? median(samples[GO_PIPE]!.map((s) => s.wall)) : undefined;
    for (const tool of tools) {
      const s = samples[tool]!;
      const wall = median(s.map((x) => x.wall));
      const peer = tool === LCOW_PIPE || tool === GO_PIPE ? goPipe : go;
      rows.push([
        name,
        `${mib(size)} MiB / ${entries}`,
        tool,
        wall.toFixed(2),
        median(s.map((x) => x.cpu)).toFixed(2),
        (wall / base).toFixed(2) + '×',
        peer === undefined ? '-' : (wall / peer).toFixed(2) + '×',
        (median(s.map((x) => x.rssKiB)) / 1024).toFixed(1),
        (size / 1024 / 1024 / wall).toFixed(0),
      ]);
    }
  }
  const header = ['input', 'size / entries', 'tool', 'wall s', 'cpu s', 'vs tar+mkfs', 'vs go', 'peak RSS MiB', 'MiB/s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  console.log(
    `node ${process.version}, ${RUNS} runs each, medians${PEER ? `; go = ${PEER} -vhd (-overlay on the edge layer)` : '; PEER_TAR2EXT4 unset: no Go column'}\n`,
  );
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
  // The default makes the image durable before it returns (fsync of the file, then of its directory after the rename).
  console.log(`\nwhat the default's fsyncs add to the wall time (lcow − lcow --no-sync, medians): ${syncCosts.join('; ')}`);
  const nodeStart = (env: string[]) => Array.from({ length: Math.max(RUNS, 5) }, () => timeProcess([...env, process.execPath, '-e', '']));
  const empty = nodeStart([]);
  const tiny = join(work, 'one-file.tar');
  execFileSync('tar', ['-C', repo, '-cf', tiny, 'package.json']);
  const floor = timeProcess([process.execPath, converter, 'convert', tiny, join(work, 'tiny.vhd')]);
  const startWall = (s: ProcessSample[]) => median(s.map((x) => x.wall)).toFixed(3);
  console.log(
    `\nfloors: \`node -e ''\` ${startWall(empty)} s, peak ${(median(empty.map((x) => x.rssKiB)) / 1024).toFixed(1)} MiB` +
      (CA_ENV ? ` (${startWall(nodeStart(['env', '-u', CA_ENV]))} s without ${CA_ENV}, which is set here)` : '') +
      `; \`lcow convert\` of a one-file tar ${floor.wall.toFixed(2)} s, peak ${(floor.rssKiB / 1024).toFixed(1)} MiB`,
  );
  console.log('targets: lcow ≤ 1.0× go on the rootfs and node_modules tars, ≤ 0.25× go on the edge layer; lcow peak RSS ≤ 64 MiB');
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(work, { recursive: true, force: true }));
