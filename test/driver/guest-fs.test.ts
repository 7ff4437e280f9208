// GuestFs against a real busybox — the same static busybox the guest image
// carries — run on the host: every argv the handle builds is executed by the
// same applets (sh, cat, stat, find, mkdir, rm, readlink) it meets in a VM.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, existsSync, chmodSync, lstatSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult } from '../../src/backend/types.js';
import { GuestFs } from '../../src/driver/guest-fs.js';
import { containerPath } from '../../src/driver/container-path.js';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));

let base: string;
let bin: string;
let rootfs: string;
let outside: string;
const argvSeen: string[][] = [];

function busyboxExec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  argvSeen.push([...argv]);
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(bin, argv[0]!), argv.slice(1), { env: { PATH: bin }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err), truncated: false }));
    // A command that never reads its stdin may exit before the write lands (EPIPE): not a failure.
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}

describe.skipIf(!BUSYBOX)('GuestFs (argv-safe file operations, run by busybox)', () => {
  let fs: GuestFs;
  beforeAll(() => {
    base = mkdtempSync(path.join(tmpdir(), 'guestfs-'));
    bin = path.join(base, 'bin');
    mkdirSync(bin);
    for (const applet of ['sh', 'cat', 'stat', 'find', 'mkdir', 'rm', 'readlink', 'chown', 'chmod', 'touch', 'ln'])
      symlinkSync(BUSYBOX!, path.join(bin, applet));
    rootfs = path.join(base, 'rootfs');
    outside = path.join(base, 'outside');
    mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret'), 'host secret');
    writeFileSync(path.join(rootfs, 'etc', 'hostname'), 'box\n');
    symlinkSync('/', path.join(rootfs, 'escape')); // absolute: points at the VM's own root
    symlinkSync(outside, path.join(rootfs, 'out'));
    symlinkSync('hostname', path.join(rootfs, 'etc', 'alias'));
    fs = new GuestFs(busyboxExec, rootfs, 10_000);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('containerPath cleans and refuses climbing above the root', () => {
    expect(containerPath('etc//x/./y/../z')).toBe('/etc/x/z');
    expect(containerPath('/')).toBe('/');
    expect(() => containerPath('../etc')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => containerPath('/a/../../b')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('writes and reads files whose names hold spaces, quotes, $() and newlines', async () => {
    const name = '/etc/it\'s a $(touch pwned) `x` "file"\nline2';
    await fs.writeFile(name, Buffer.from([0, 1, 2, 255]));
    expect(await fs.readFile(name)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(existsSync(path.join(rootfs, 'etc', 'it\'s a $(touch pwned) `x` "file"\nline2'))).toBe(true);
    expect(existsSync(path.join(base, 'pwned'))).toBe(false);
    expect(existsSync('pwned')).toBe(false);
    // every argv element is the caller's path verbatim, never spliced into the script
    expect(argvSeen.some((a) => a.includes(path.join(rootfs, name.slice(1))))).toBe(true);
    // the shell scripts are constants: only two distinct ones (the guard, and `cat > "$1"`) ever ran
    const scripts = new Set(argvSeen.flatMap((a) => a.flatMap((x, i) => (a[i - 1] === '-c' ? [x] : []))));
    expect([...scripts].sort()).toEqual([...scripts].filter((s) => s === 'cat > "$1"' || s.startsWith('root=$1;')).sort());
    expect(scripts.size).toBe(2);
  });

  it('stat, readdir, mkdir, remove', async () => {
    await fs.mkdir('/data/a/b', { recursive: true });
    await fs.writeFile('/data/a/b/f', 'hello');
    expect(await fs.stat('/data/a/b/f')).toMatchObject({ type: 'file', size: 5 });
    expect(await fs.stat('/data/a')).toMatchObject({ type: 'dir' });
    expect(await fs.stat('/etc/alias')).toMatchObject({ type: 'symlink' });
    expect(await fs.readFile('/etc/alias')).toEqual(Buffer.from('box\n'));
    expect(await fs.readdir('/data/a/b')).toEqual(['f']);
    await fs.mkdir('/data/m', { mode: 0o700 });
    expect((await fs.stat('/data/m')).mode).toBe(0o700);
    await expect(fs.mkdir('/data/m')).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(fs.mkdir('/nope/x')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await fs.remove('/data', { recursive: true });
    expect(existsSync(path.join(rootfs, 'data'))).toBe(false);
    await fs.remove('/data'); // missing: fine
    await expect(fs.readFile('/data/a/b/f')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(fs.stat('/nope')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(fs.remove('/')).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('refuses symlinks that lead outside the rootfs, for reads, writes and mkdir -p', async () => {
    await expect(fs.readFile('/out/secret')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(fs.writeFile('/out/new', 'x')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(fs.mkdir('/escape' + outside + '/made', { recursive: true })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(fs.readdir('/out')).rejects.toMatchObject({ code: 'EINVAL' });
    expect(existsSync(path.join(outside, 'new'))).toBe(false);
    expect(existsSync(path.join(outside, 'made'))).toBe(false);
    expect(readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('host secret');
    // removing the symlink itself is fine: rm never follows it
    symlinkSync(outside, path.join(rootfs, 'out2'));
    await fs.remove('/out2');
    expect(existsSync(outside)).toBe(true);
    chmodSync(outside, 0o755);
  });

  it('a dangling symlink pointing outside cannot be written through', async () => {
    symlinkSync(path.join(outside, 'planted'), path.join(rootfs, 'dangling'));
    await expect(fs.writeFile('/dangling', 'x')).rejects.toMatchObject({ code: 'EINVAL' });
    expect(existsSync(path.join(outside, 'planted'))).toBe(false);
  });

  it('place makes what a writer into an empty directory made: a directory already there is kept, anything else replaced', async () => {
    mkdirSync(path.join(rootfs, 'srv'), { mode: 0o700 });
    expect(await fs.place('/srv', { type: 'dir', mode: 0o755, uid: process.getuid!(), gid: process.getgid!() })).toBe('kept');
    expect(statSync(path.join(rootfs, 'srv')).mode & 0o777).toBe(0o700); // mkdir -p leaves it as it is
    expect(await fs.place('/srv/new dir', { type: 'dir', mode: 0o750, uid: process.getuid!(), gid: process.getgid!() })).toBe('made');
    expect(statSync(path.join(rootfs, 'srv', 'new dir')).mode & 0o7777).toBe(0o750);

    const owner = { uid: process.getuid!(), gid: process.getgid!() };
    // A file over a symlink replaces the link; it never writes through it.
    symlinkSync('hostname', path.join(rootfs, 'etc', 'hosts'));
    expect(await fs.place('/etc/hosts', { type: 'file', data: Buffer.from('127.0.0.1 localhost\n'), mode: 0o644, mtimeSec: 315_532_800, ...owner })).toBe(
      'made',
    );
    expect(lstatSync(path.join(rootfs, 'etc', 'hosts')).isFile()).toBe(true);
    expect(readFileSync(path.join(rootfs, 'etc', 'hosts'), 'utf8')).toBe('127.0.0.1 localhost\n');
    expect(statSync(path.join(rootfs, 'etc', 'hosts')).mtimeMs).toBe(315_532_800_000);
    expect(readFileSync(path.join(rootfs, 'etc', 'hostname'), 'utf8')).toBe('box\n');
    await fs.place('/.dockerenv', { type: 'file', data: Buffer.alloc(0), mode: 0o755, mtimeSec: 1, ...owner });
    expect(statSync(path.join(rootfs, '.dockerenv')).mode & 0o7777).toBe(0o755);
    // A symlink replaces a file.
    writeFileSync(path.join(rootfs, 'etc', 'mtab'), 'old');
    await fs.place('/etc/mtab', { type: 'symlink', target: '/proc/mounts', mtimeSec: 1, ...owner });
    expect(readlinkSync(path.join(rootfs, 'etc', 'mtab'))).toBe('/proc/mounts');
    // A file where a directory is: refused, the directory untouched.
    await expect(fs.place('/srv', { type: 'file', data: Buffer.from('x'), mode: 0o644, mtimeSec: 1, ...owner })).rejects.toMatchObject({ code: 'EEXEC' });
    expect(statSync(path.join(rootfs, 'srv')).isDirectory()).toBe(true);
    // Never outside the rootfs, by a symlinked parent or a symlinked directory.
    await expect(fs.place('/out/planted', { type: 'file', data: Buffer.from('x'), mode: 0o644, mtimeSec: 1, ...owner })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(fs.place('/out', { type: 'dir', mode: 0o755, ...owner })).rejects.toMatchObject({ code: 'EINVAL' });
    expect(existsSync(path.join(outside, 'planted'))).toBe(false);
  });
});
