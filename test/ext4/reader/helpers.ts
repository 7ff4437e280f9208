/**
 * Test helpers for the ext4 reader: build source trees and images with the
 * real tools (mkfs.ext4 -d, e2fsck -D, the kernel via a loop mount), and
 * compare what the reader sees with the source tree, entry by entry.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Ext4Image } from '../../../src/ext4/reader/image.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

export interface ManifestEntry {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: string;
  size?: number;
  nlink: number;
  ino: number;
  sha256?: string;
  target?: string;
  major?: number;
  minor?: number;
  subdirs?: number;
  xattrs: Record<string, string>;
}

export function run(cmd: string, args: string[], opts: { allowExit?: number[] } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    if (e.status !== undefined && opts.allowExit?.includes(e.status)) return e.stdout ?? '';
    throw new Error(`${cmd} ${args.join(' ')} failed (${e.status}): ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: err });
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function makeTree(dir: string, small = false): void {
  run('python3', [join(FIXTURES, 'make-tree.py'), dir, ...(small ? ['--small'] : [])]);
}

export function manifest(dir: string): Record<string, ManifestEntry> {
  return JSON.parse(execFileSync('python3', [join(FIXTURES, 'manifest.py'), dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as Record<
    string,
    ManifestEntry
  >;
}

/** mkfs.ext4 -d: the image e2fsprogs writes from a tree. `extra` are mkfs options (-b, -I, -O …). */
export function mkfsFromTree(image: string, tree: string, sizeMiB: number, extra: string[] = [], fsType = 'ext4'): void {
  rmSync(image, { force: true });
  run(`mkfs.${fsType}`, ['-q', '-F', '-L', 'lcow-test', ...extra, '-d', tree, image, `${sizeMiB}M`]);
  run('e2fsck', ['-fn', image]);
}

/** The same tree written by the Linux kernel: mkfs an empty image, loop-mount it, cp -a, unmount. */
export function kernelImage(image: string, tree: string, sizeMiB: number): void {
  rmSync(image, { force: true });
  run('mkfs.ext4', ['-q', '-F', image, `${sizeMiB}M`]);
  const mnt = tempDir('ext4-mnt-');
  try {
    run('mount', ['-o', 'loop', image, mnt]);
    try {
      run('cp', ['-a', `${tree}/.`, mnt]);
    } finally {
      run('umount', [mnt]);
    }
  } finally {
    rmSync(mnt, { recursive: true, force: true });
  }
  run('e2fsck', ['-fn', image]);
}

export function canLoopMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    run('losetup', ['-f']);
    return true;
  } catch {
    return false;
  }
}

function nsOf(t: { sec: number; nsec: number }): string {
  return (BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec)).toString();
}

/** Differences between the reader's view and the manifest ([] when they agree). */
export async function compareWithManifest(
  img: Ext4Image,
  want: Record<string, ManifestEntry>,
  opts: { skipXattrs?: string[]; skipPaths?: string[] } = {},
): Promise<string[]> {
  const diffs: string[] = [];
  const seen = new Set<string>();
  const inodeOfSource = new Map<number, number>();
  for await (const { path, stat } of img.walk('/')) {
    if (path === '/' || path === '/lost+found' || opts.skipPaths?.includes(path)) continue;
    seen.add(path);
    const w = want[path];
    if (!w) {
      diffs.push(`${path}: extra in image`);
      continue;
    }
    const d = (what: string, got: unknown, exp: unknown): void => {
      if (got !== exp) diffs.push(`${path}: ${what} ${String(got)} != ${String(exp)}`);
    };
    d('kind', stat.kind, w.kind);
    d('mode', stat.mode.toString(8), w.mode.toString(8));
    d('uid', stat.uid, w.uid);
    d('gid', stat.gid, w.gid);
    d('mtime', nsOf(stat.mtime), w.mtime);
    if (w.kind === 'dir') d('nlink', stat.nlink, 2 + (w.subdirs ?? 0));
    else {
      d('nlink', stat.nlink, w.nlink);
      d('size', stat.size, w.size);
      // hard links: the same source inode ↔ the same image inode
      const prev = inodeOfSource.get(w.ino);
      if (prev === undefined) inodeOfSource.set(w.ino, stat.inode);
      else d('hard-link inode', stat.inode, prev);
    }
    if (w.kind === 'file') {
      const bytes = await img.readFile(path);
      d('sha256', createHash('sha256').update(bytes).digest('hex'), w.sha256);
      if (stat.size > 1024 * 1024) {
        const h = createHash('sha256');
        for await (const chunk of img.createReadStream(path)) h.update(chunk as Buffer);
        d('stream sha256', h.digest('hex'), w.sha256);
      }
    }
    if (w.kind === 'symlink') d('target', await img.readlink(path), w.target);
    if (w.kind === 'char' || w.kind === 'block') {
      d('major', stat.rdevMajor, w.major);
      d('minor', stat.rdevMinor, w.minor);
    }
    const xs = await img.listXattrs(path);
    const got = Object.fromEntries(
      [...xs]
        .filter(([n]) => !opts.skipXattrs?.includes(n))
        .map(([n, v]) => [n, v.toString('hex')])
        .sort(),
    );
    const exp = Object.fromEntries(
      Object.entries(w.xattrs)
        .filter(([n]) => !opts.skipXattrs?.includes(n))
        .sort(),
    );
    d('xattrs', JSON.stringify(got), JSON.stringify(exp));
  }
  for (const p of Object.keys(want)) if (!seen.has(p) && !opts.skipPaths?.includes(p)) diffs.push(`${p}: missing from image`);
  return diffs;
}

export function ensureDir(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}

/**
 * What mkfs.ext4 -d (e2fsprogs 1.47) can store of a tree: it copies whole
 * seconds only (no nanoseconds, no epoch bits, so times wrap to 32 bits) and
 * makes each name of a hard-linked symlink its own symlink. The kernel keeps
 * all of it, so kernel-written images are compared with the full manifest.
 */
export function e2fsprogsView(m: Record<string, ManifestEntry>): Record<string, ManifestEntry> {
  let unique = -1;
  return Object.fromEntries(
    Object.entries(m).map(([p, e]) => {
      const ns = BigInt(e.mtime);
      const floorSec = ns / 1_000_000_000n - (ns < 0n && ns % 1_000_000_000n !== 0n ? 1n : 0n);
      const sec = BigInt.asIntN(32, floorSec);
      const out: ManifestEntry = { ...e, mtime: (sec * 1_000_000_000n).toString() };
      if (e.kind === 'symlink' && e.nlink > 1) {
        out.nlink = 1;
        out.ino = unique--;
      }
      return [p, out];
    }),
  );
}

/** A file's bytes as debugfs (e2fsprogs' own reader) dumps them. */
export function debugfsDump(image: string, path: string, out: string): void {
  run('debugfs', ['-R', `dump ${path} ${out}`, image]);
}
