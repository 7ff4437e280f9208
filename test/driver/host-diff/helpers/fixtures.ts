/**
 * Test fixtures for host-side diff: a declarative tree spec, materialised as
 * a directory (python3: lchown, mknod, setxattr, ns times) and packed into
 * an ext4 image the kernel filled through a loop mount — not this project —
 * plus a tar parser that reports what a consumer of the diff would see.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';

export interface Meta {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: { sec: number; nsec: number };
  /** name → value; 'base64:…' for binary values. */
  xattrs?: Record<string, string>;
}
export type SpecEntry = Meta &
  (
    | { path: string; type: 'dir'; opaque?: boolean }
    | { path: string; type: 'file'; content: string | Buffer }
    | { path: string; type: 'symlink'; target: string }
    | { path: string; type: 'hardlink'; target: string }
    | { path: string; type: 'char' | 'block'; major: number; minor: number }
    | { path: string; type: 'fifo' }
    | { path: string; type: 'whiteout' }
  );

const BUILD = `
import os, sys, json, base64, stat
root = sys.argv[1]
spec = json.load(sys.stdin)
os.makedirs(root, exist_ok=True)
for e in spec:
    p = os.path.join(root, e['path'])
    os.makedirs(os.path.dirname(p), exist_ok=True)
    t = e['type']
    if t == 'dir': os.makedirs(p, exist_ok=True)
    elif t == 'file':
        with open(p, 'wb') as f: f.write(base64.b64decode(e['content']))
    elif t == 'symlink': os.symlink(e['target'], p)
    elif t == 'hardlink': os.link(os.path.join(root, e['target']), p)
    elif t == 'char': os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(e['major'], e['minor']))
    elif t == 'block': os.mknod(p, stat.S_IFBLK | 0o600, os.makedev(e['major'], e['minor']))
    elif t == 'fifo': os.mkfifo(p)
    elif t == 'whiteout': os.mknod(p, stat.S_IFCHR, os.makedev(0, 0))
for e in reversed(spec):
    if e['type'] == 'hardlink': continue
    p = os.path.join(root, e['path'])
    os.lchown(p, e.get('uid', 0), e.get('gid', 0))
    if e['type'] != 'symlink': os.chmod(p, e['mode'])
    for k, v in e.get('xattrs', {}).items(): os.setxattr(p, k, base64.b64decode(v[7:]) if v.startswith('base64:') else v.encode(), follow_symlinks=False)
    if e.get('opaque'): os.setxattr(p, 'trusted.overlay.opaque', b'y')
    m = e['mtime']['sec'] * 10**9 + e['mtime']['nsec']
    os.utime(p, ns=(m, m), follow_symlinks=False)
`;

export const DEFAULT_MTIME = { sec: 1_700_000_000, nsec: 123_456_789 };

function defaultMode(e: SpecEntry): number {
  if (e.mode !== undefined) return e.mode;
  return e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : e.type === 'whiteout' ? 0 : 0o644;
}

/** Create the spec's tree under `dir` (parents must come before children in the spec). */
export function buildTree(dir: string, spec: SpecEntry[]): void {
  const json = spec.map((e) => ({
    ...e,
    mode: defaultMode(e),
    mtime: e.mtime ?? DEFAULT_MTIME,
    content: 'content' in e ? Buffer.from(e.content).toString('base64') : undefined,
  }));
  execFileSync('python3', ['-c', BUILD, dir], { input: JSON.stringify(json) });
}

/**
 * An ext4 image of the tree (what a layer.vhd holds, minus the footer): an
 * empty file system from mkfs.ext4, filled by the kernel through a loop
 * mount (mkfs.ext4 -d of e2fsprogs 1.47.0 drops nanoseconds).
 */
export function buildExt4(image: string, spec: SpecEntry[], sizeMiB = 32): void {
  execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-I', '256', '-O', '^has_journal', '-E', 'root_owner=0:0', image, `${sizeMiB}M`]);
  const mnt = `${image}.mnt`;
  fs.mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-t', 'ext4', '-o', 'loop', image, mnt]);
  try {
    buildTree(mnt, spec);
  } finally {
    execFileSync('umount', [mnt]);
    fs.rmdirSync(mnt);
  }
}

export interface TarSeen {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: string;
  linkname: string | null;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, string>;
  sha256?: string;
}

/** Parse a tar stream into entries (names without trailing '/', mtime as 'sec.nsec' string from PAX or the header). */
export async function readTar(stream: Readable | NodeJS.ReadableStream): Promise<TarSeen[]> {
  const out: TarSeen[] = [];
  const ex = tar.extract();
  const done = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const hash = crypto.createHash('sha256');
      for await (const chunk of entry) hash.update(chunk as Buffer);
      const pax = (h.pax ?? {}) as Record<string, string>;
      const xattrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(pax)) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice(13)] = v;
      out.push({
        name: h.name.replace(/\/$/, ''),
        type: h.type,
        mode: h.mode,
        uid: pax.uid ? Number(pax.uid) : h.uid,
        gid: pax.gid ? Number(pax.gid) : h.gid,
        size: h.size,
        mtime: pax.mtime ?? String(h.mtime.getTime() / 1000),
        linkname: h.linkname || null,
        devmajor: h.devmajor,
        devminor: h.devminor,
        xattrs,
        sha256: h.type === 'file' ? hash.digest('hex') : undefined,
      });
    }
  })();
  // pipe() does not forward errors: a failing source must fail the parse, not hang it
  (stream as Readable).on('error', (err: Error) => ex.destroy(err));
  (stream as Readable).pipe(ex);
  await done;
  return out;
}

export function sha256(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** A PAX time value for sec + nsec/1e9 (the instant, so -1 s + 1 ns is "-0.999999999"). */
export function paxMtime(t: { sec: number; nsec: number }): string {
  const total = BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
  const abs = total < 0n ? -total : total;
  const whole = `${total < 0n ? '-' : ''}${abs / 1_000_000_000n}`;
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : whole;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', prefix));
}

/** Mounts a test makes (loop, overlay), tracked so that afterAll can lazily unmount what a failure left. */
export class TestMounts {
  private readonly mounted: string[] = [];

  mount(args: string[], dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('mount', [...args, dir]);
    this.mounted.push(dir);
  }

  umount(dir: string): void {
    execFileSync('umount', [dir]);
    this.mounted.splice(this.mounted.indexOf(dir), 1);
  }

  /** Whatever is still mounted, newest first (lazily: a failed test may leave users). */
  umountAll(): void {
    for (const d of this.mounted.splice(0).reverse()) execFileSync('umount', ['-l', d]);
  }
}
