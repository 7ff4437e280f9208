/** Test helpers: build LayerEntry objects, write images, and inspect them with e2fsprogs. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntryMeta, LayerEntry, Timestamp } from '../../../src/ext4/index.js';
import { Ext4Writer, type Ext4WriteResult, type Ext4WriterOptions } from '../../../src/ext4/index.js';

export const T0: Timestamp = { sec: 1_700_000_000, nsec: 123_456_789 };

export function meta(over: Partial<EntryMeta> = {}): EntryMeta {
  return { mode: 0o644, uid: 0, gid: 0, atime: T0, mtime: T0, ctime: T0, crtime: T0, xattrs: new Map(), ...over };
}

export async function* chunks(data: Buffer, size = 65536): AsyncIterable<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export function file(path: string, content: Buffer | string, over: Partial<EntryMeta> = {}): LayerEntry {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  return { kind: 'file', path, tarName: path, meta: meta(over), size: data.length, body: chunks(data) };
}

export function dir(path: string, over: Partial<EntryMeta> = {}): LayerEntry {
  return { kind: 'dir', path, tarName: path + '/', meta: meta({ mode: 0o755, ...over }) };
}

export function symlink(path: string, target: string, over: Partial<EntryMeta> = {}): LayerEntry {
  return { kind: 'symlink', path, tarName: path, target, meta: meta({ mode: 0o777, ...over }) };
}

export function hardlink(path: string, target: string): LayerEntry {
  return { kind: 'hardlink', path, tarName: path, target, meta: meta() };
}

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'ext4w-'));
  file(name: string): string {
    return join(this.path, name);
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export async function writeImage(
  path: string,
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  options?: Ext4WriterOptions,
): Promise<Ext4WriteResult> {
  const fh = await open(path, 'w+');
  try {
    const w = Ext4Writer.create(fh, options);
    for await (const e of entries) await w.add(e);
    return await w.finish();
  } finally {
    await fh.close();
  }
}

/** e2fsck -fn: exit code and full output. */
export function fsck(image: string): { status: number | null; output: string } {
  const r = spawnSync('e2fsck', ['-fn', image], { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

export function debugfs(image: string, command: string): string {
  return execFileSync('debugfs', ['-R', command, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
}

/** debugfs dump of one file into a Buffer. */
export function dump(image: string, path: string, tmp: TempDir): Buffer {
  const out = tmp.file('dump-' + Math.random().toString(36).slice(2));
  execFileSync('debugfs', ['-R', `dump -p "${path}" ${out}`, image], { stdio: 'ignore' });
  const data = readFileSync(out);
  rmSync(out);
  return data;
}

/** Parsed fields of `debugfs stat`. */
export interface StatInfo {
  raw: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  blockcount: number;
  flags: number;
  /** Raw "0x<hex>:<hex>" time words per field (ctime, atime, mtime, crtime). */
  times: Record<string, { lo: number; extra: number }>;
}

export function stat(image: string, path: string): StatInfo {
  const raw = debugfs(image, `stat "${path}"`);
  const num = (re: RegExp) => {
    const m = raw.match(re);
    if (!m) throw new Error(`no ${re} in\n${raw}`);
    return Number(m[1]);
  };
  const times: StatInfo['times'] = {};
  for (const m of raw.matchAll(/^\s*(ctime|atime|mtime|crtime): 0x([0-9a-f]+):([0-9a-f]+)/gm)) {
    times[m[1]!] = { lo: parseInt(m[2]!, 16), extra: parseInt(m[3]!, 16) };
  }
  return {
    raw,
    type: (raw.match(/Type: (.+?)\s{2,}Mode/) ?? [])[1] ?? '',
    mode: parseInt((raw.match(/Mode:\s+([0-7]+)/) ?? [])[1] ?? 'NaN', 8),
    // debugfs prints ids as signed 32-bit numbers
    uid: num(/User:\s+(-?\d+)/) >>> 0,
    gid: num(/Group:\s+(-?\d+)/) >>> 0,
    size: num(/Size: (\d+)/),
    links: num(/Links: (\d+)/),
    blockcount: num(/Blockcount: (\d+)/),
    flags: parseInt((raw.match(/Flags: 0x([0-9a-f]+)/) ?? [])[1] ?? '0', 16),
    times,
  };
}

export function hasRoot(): boolean {
  return process.getuid?.() === 0;
}

/** e2fsck -fn exits 0 and prints nothing but its pass headers, summary and version. */
export function expectFsckClean(image: string): void {
  const { status, output } = fsck(image);
  const findings = output
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^Pass \d/.test(l) && !/^e2fsck \d/.test(l) && !/: \d+\/\d+ files \(.*\), \d+\/\d+ blocks$/.test(l));
  if (status !== 0 || findings.length > 0) throw new Error(`e2fsck -fn found problems (exit ${status}):\n${output}`);
}

/** Extended attributes as `debugfs ea_list` prints them, name → printed value. */
export function eaList(image: string, path: string): string {
  return debugfs(image, `ea_list "${path}"`);
}

/** The time words debugfs prints, decoded the way the kernel does. */
export function kernelTime(w: { lo: number; extra: number }): { sec: number; nsec: number } {
  return { sec: (w.lo | 0) + (w.extra & 3) * 2 ** 32, nsec: w.extra >>> 2 };
}

/** Loop-mount `image` (read-only unless `rw`) for the duration of `fn`; needs root. */
export async function withMount<T>(image: string, fn: (dir: string) => Promise<T> | T, rw = false): Promise<T> {
  const mnt = mkdtempSync(join(tmpdir(), 'ext4m-'));
  mkdirSync(mnt, { recursive: true });
  execFileSync('mount', ['-o', rw ? 'loop' : 'loop,ro', image, mnt]);
  try {
    return await fn(mnt);
  } finally {
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
}
