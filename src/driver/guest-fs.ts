/**
 * File operations on a rootfs mounted in a service VM, each one guest
 * process started from an argv array. No shell string is ever built from a
 * caller's input (moby's remotefs did exactly that and broke on spaces);
 * where a shell is used, the script is a constant and paths arrive as its
 * positional parameters.
 *
 * Every operation first resolves the path it touches (or its parent, for
 * operations that create or delete a name) with `readlink -f` in the guest and
 * refuses it when that lands outside the rootfs — a symlink such as
 * `etc -> /` must not let a write reach the service VM's own files.
 */
import { LcowError } from '../errors.js';
import type { ExecOptions, ExecResult } from '../backend/index.js';
import { containerPath, guestPathIn } from './container-path.js';

export type GuestExec = (argv: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

/** What `stat` reports (lstat: a symlink is reported as itself). */
export interface GuestStat {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  size: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  nlink: number;
}

/** What `place` makes: its owner and mode as given; files and symlinks also keep their mtime. */
export type PlacedEntry =
  | { type: 'dir'; mode: number; uid: number; gid: number }
  | { type: 'file'; data: Buffer; mode: number; uid: number; gid: number; mtimeSec: number }
  | { type: 'symlink'; target: string; uid: number; gid: number; mtimeSec: number };

export interface RemoveOptions {
  recursive?: boolean;
}
export interface MkdirOptions {
  recursive?: boolean;
  mode?: number;
}

/** Guard exit statuses (none of them one that cat/rm/mkdir/stat/find use). */
const EXIT_ESCAPE = 97;
const EXIT_MISSING = 98;
const EXIT_EXISTS = 96;

/**
 * $1 rootfs, $2 the path whose resolution must stay inside the rootfs, $3 a
 * path that must exist ('' for none), $4 a path that must not exist ('' for
 * none); then the command. For $2 the nearest existing ancestor (a dangling
 * symlink counts as existing) is resolved with readlink -f, so even
 * `mkdir -p` through a symlink to '/' is caught.
 */
const GUARD = [
  'root=$1; check=$2; must=$3; mustnot=$4; shift 4',
  'if [ -n "$must" ] && [ ! -e "$must" ] && [ ! -L "$must" ]; then exit 98; fi',
  'if [ -n "$mustnot" ] && { [ -e "$mustnot" ] || [ -L "$mustnot" ]; }; then exit 96; fi',
  'while [ ! -e "$check" ] && [ ! -L "$check" ]; do check=${check%/*}; [ -n "$check" ] || check=/; done',
  'real=$(readlink -f -- "$check") || exit 97',
  'case "$real/" in "$root"/*) ;; *) exit 97 ;; esac',
  'exec "$@"',
].join('\n');

interface Guard {
  /** Path (or its nearest existing ancestor) that must resolve inside the rootfs. */
  resolve: string;
  mustExist?: string;
  mustNotExist?: string;
}

/**
 * `place`'s scripts, after the guard: $1 the path, $2 uid:gid, $3 the mode
 * (octal), $4 the mtime (epoch seconds), $5 a symlink's target. A directory
 * already there (`mkdir -p`'s rule) is kept as it is and reported on stdout.
 */
const PLACE: Record<PlacedEntry['type'], string> = {
  dir: 'if [ -d "$1" ]; then echo kept; exit 0; fi; rm -f -- "$1" && mkdir -- "$1" && chown -h -- "$2" "$1" && chmod -- "$3" "$1"',
  file: 'rm -f -- "$1" && cat > "$1" && chown -h -- "$2" "$1" && chmod -- "$3" "$1" && touch -h -d "@$4" -- "$1"',
  symlink: 'rm -f -- "$1" && ln -s -- "$5" "$1" && chown -h -- "$2" "$1" && touch -h -d "@$4" -- "$1"',
};

const MODE_TYPES: Array<[number, GuestStat['type']]> = [
  [0o140000, 'socket'],
  [0o120000, 'symlink'],
  [0o100000, 'file'],
  [0o060000, 'block'],
  [0o040000, 'dir'],
  [0o020000, 'char'],
  [0o010000, 'fifo'],
];

export class GuestFs {
  constructor(
    private readonly exec: GuestExec,
    /** Where the union is mounted in the guest. */
    readonly rootfs: string,
    private readonly timeoutMs: number,
  ) {}

  async readFile(p: string): Promise<Buffer> {
    const t = this.abs(p);
    return (await this.run(p, { resolve: t, mustExist: t }, ['cat', '--', t])).stdout;
  }

  /** Create or replace a file (following a final symlink only when it stays inside). */
  async writeFile(p: string, data: Buffer | string): Promise<void> {
    const t = this.abs(p);
    // Constant script: the file name is "$1", the bytes come on stdin.
    await this.run(p, { resolve: t, mustExist: this.parent(t) }, ['sh', '-c', 'cat > "$1"', 'sh', t], { stdin: data });
  }

  async stat(p: string): Promise<GuestStat> {
    const t = this.abs(p);
    const r = await this.run(p, { resolve: this.parent(t), mustExist: t }, ['stat', '-c', '%f %s %u %g %Y %h', '--', t]);
    const fields = r.stdout.toString('utf8').trim().split(/\s+/);
    const [modeHex, size, uid, gid, mtime, nlink] = fields;
    if (fields.length !== 6 || modeHex === undefined)
      throw new LcowError('EGUEST', `unexpected stat output for ${p}`, { path: p, output: r.stdout.toString('utf8') });
    const raw = parseInt(modeHex, 16);
    const type = MODE_TYPES.find(([bits]) => (raw & 0o170000) === bits)?.[1] ?? 'file';
    return { type, mode: raw & 0o7777, size: Number(size), uid: Number(uid), gid: Number(gid), mtimeSec: Number(mtime), nlink: Number(nlink) };
  }

  /** Names in a directory, sorted, without '.' and '..'. */
  async readdir(p: string): Promise<string[]> {
    const t = this.abs(p);
    const r = await this.run(p, { resolve: t, mustExist: t }, ['find', t + '/', '-mindepth', '1', '-maxdepth', '1', '-print0']);
    return r.stdout
      .toString('utf8')
      .split('\0')
      .filter((s) => s !== '')
      .map((s) => s.slice(s.lastIndexOf('/') + 1))
      .sort();
  }

  async mkdir(p: string, options: MkdirOptions = {}): Promise<void> {
    const t = this.abs(p);
    const mode = options.mode !== undefined ? ['-m', (options.mode & 0o7777).toString(8)] : [];
    const guard: Guard = options.recursive ? { resolve: t } : { resolve: t, mustExist: this.parent(t), mustNotExist: t };
    await this.run(p, guard, ['mkdir', ...(options.recursive ? ['-p'] : []), ...mode, '--', t]);
  }

  /** Remove a name (a symlink itself, never its target). A missing path is not an error. */
  async remove(p: string, options: RemoveOptions = {}): Promise<void> {
    const t = this.abs(p);
    if (t === this.rootfs) throw new LcowError('EINVAL', 'refusing to remove the container root', { path: p });
    await this.run(p, { resolve: this.parent(t) }, ['rm', options.recursive ? '-rf' : '-f', '--', t]);
  }

  /**
   * Make `p` what a program writing into an empty directory made there, as
   * if it had written into this rootfs instead: a directory (one already
   * there is kept, as `mkdir -p` would), a file or a symlink, replacing any
   * non-directory at `p`. One guest process per entry.
   */
  async place(p: string, entry: PlacedEntry): Promise<'made' | 'kept'> {
    const t = this.abs(p);
    const parent = this.parent(t);
    const mode = entry.type === 'symlink' ? '' : (entry.mode & 0o7777).toString(8);
    const mtime = entry.type === 'dir' ? '' : String(Math.trunc(entry.mtimeSec));
    const target = entry.type === 'symlink' ? entry.target : '';
    const guard: Guard = entry.type === 'dir' ? { resolve: t, mustExist: parent } : { resolve: parent, mustExist: parent };
    const r = await this.run(p, guard, ['sh', '-c', PLACE[entry.type], 'place', t, `${entry.uid}:${entry.gid}`, mode, mtime, target], {
      ...(entry.type === 'file' ? { stdin: entry.data } : {}),
    });
    return r.stdout.toString('utf8').trim() === 'kept' ? 'kept' : 'made';
  }

  private abs(p: string): string {
    return guestPathIn(this.rootfs, p);
  }

  private parent(target: string): string {
    const i = target.lastIndexOf('/');
    return i <= 0 ? '/' : target.slice(0, i);
  }

  private async run(p: string, guard: Guard, argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(['sh', '-c', GUARD, 'guard', this.rootfs, guard.resolve, guard.mustExist ?? '', guard.mustNotExist ?? '', ...argv], {
      timeoutMs: this.timeoutMs,
      ...options,
    });
    const inside = containerPath(p);
    if (r.exitCode === EXIT_ESCAPE) throw new LcowError('EINVAL', `path ${JSON.stringify(inside)} resolves outside the container root`, { path: inside });
    if (r.exitCode === EXIT_MISSING) throw new LcowError('ENOTFOUND', `no such file or directory: ${inside}`, { path: inside });
    if (r.exitCode === EXIT_EXISTS) throw new LcowError('EEXIST', `already exists: ${inside}`, { path: inside });
    if (r.exitCode !== 0) {
      const stderr = r.stderr.toString('utf8').trim();
      throw new LcowError('EEXEC', `${argv[0]} ${inside} failed (exit ${r.exitCode}): ${stderr}`, { path: inside, argv, exitCode: r.exitCode, stderr });
    }
    return r;
  }
}
