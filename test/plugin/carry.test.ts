// The drop box: what the daemon wrote into a container layer's Get directory
// becomes `place` calls on the layer, parents first, with owners, modes and
// times; what a rootfs write cannot be is skipped.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlacedEntry } from '../../src/driver/index.js';
import { silentLogger } from '../../src/log.js';
import { carry, isEmptyDir } from '../../src/plugin/carry.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lcow-carry-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('carry', () => {
  it("replays the daemon's init layer as place calls, parents first", async () => {
    expect(await isEmptyDir(dir)).toBe(true);
    // What moby's initlayer.Setup writes into an empty directory.
    for (const d of ['dev/pts', 'dev/shm', 'proc', 'sys', 'etc']) mkdirSync(path.join(dir, d), { recursive: true, mode: 0o755 });
    for (const f of ['.dockerenv', 'etc/resolv.conf', 'etc/hosts', 'etc/hostname', 'dev/console']) writeFileSync(path.join(dir, f), '', { mode: 0o755 });
    symlinkSync('/proc/mounts', path.join(dir, 'etc/mtab'));
    writeFileSync(path.join(dir, 'etc/hosts'), '127.0.0.1 localhost\n');
    utimesSync(path.join(dir, 'etc/hosts'), 1_000_000, 1_000_000);
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    expect(await isEmptyDir(dir)).toBe(false);

    const calls: Array<[string, PlacedEntry]> = [];
    const r = await carry(dir, { place: async (p, e) => (calls.push([p, e]), p === '/etc' ? 'kept' : 'made') }, silentLogger);
    expect(calls.map(([p]) => p)).toEqual([
      '/.dockerenv',
      '/dev',
      '/dev/console',
      '/dev/pts',
      '/dev/shm',
      '/etc',
      '/etc/hostname',
      '/etc/hosts',
      '/etc/mtab',
      '/etc/resolv.conf',
      '/proc',
      '/sys',
    ]);
    expect(r).toEqual({ made: 11, kept: 1, skipped: 1 });
    const byPath = new Map(calls);
    expect(byPath.get('/etc/mtab')).toMatchObject({ type: 'symlink', target: '/proc/mounts' });
    expect(byPath.get('/dev/pts')).toMatchObject({ type: 'dir', mode: 0o755 });
    const hosts = byPath.get('/etc/hosts');
    expect(hosts).toMatchObject({ type: 'file', mtimeSec: 1_000_000 });
    expect(hosts?.type === 'file' && hosts.data.toString()).toBe('127.0.0.1 localhost\n');
  });

  it("a failed place stops the carry with that place's error", async () => {
    writeFileSync(path.join(dir, 'a'), 'a');
    writeFileSync(path.join(dir, 'b'), 'b');
    const seen: string[] = [];
    const err = Object.assign(new Error('no'), { code: 'EEXEC' });
    await expect(
      carry(
        dir,
        {
          place: async (p) => {
            seen.push(p);
            throw err;
          },
        },
        silentLogger,
      ),
    ).rejects.toBe(err);
    expect(seen).toEqual(['/a']);
  });
});
