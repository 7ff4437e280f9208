/**
 * `lcow convert` sizes libuv's pool before it starts (bin/pool-size.cjs):
 * the rule, and that it takes effect from the CommonJS bin — an ES module
 * entry would have started the pool before its first line. Thread counts
 * are read from /proc (Linux).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pyTar } from '../helpers/tar-fixtures.js';

const repo = resolve(import.meta.dirname, '../..');
const { poolSizeFor, preferSmallPool } = createRequire(import.meta.url)('../../bin/pool-size.cjs') as {
  poolSizeFor: (cores: number) => number | undefined;
  preferSmallPool: (argv: string[], env?: NodeJS.ProcessEnv, cores?: number) => number | undefined;
};
const dir = mkdtempSync(join(tmpdir(), 'lcow-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Threads of a child that sized its pool as the bin does, then ran eight file operations at once. */
function threadsAfter(argv: string[], cores: number, env: Record<string, string> = {}): number {
  const script = `
require(${JSON.stringify(join(repo, 'bin/pool-size.cjs'))}).preferSmallPool(${JSON.stringify(argv)}, process.env, ${cores});
const fs = require('node:fs');
Promise.all(Array.from({ length: 8 }, () => fs.promises.stat('/'))).then(() => process.stdout.write(String(fs.readdirSync('/proc/self/task').length)));
`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: undefined, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout);
}

describe('the converter thread pool', () => {
  it('gets the cores the main thread leaves, up to libuv’s default', () => {
    expect([1, 2, 3, 4, 5, 64].map(poolSizeFor)).toEqual([1, 1, 2, 3, undefined, undefined]);
  });

  it('is set for convert only, and never over the user’s own UV_THREADPOOL_SIZE', () => {
    const env: NodeJS.ProcessEnv = {};
    expect(preferSmallPool(['convert', 'a.tar', 'b.vhd'], env, 2)).toBe(1);
    expect(env.UV_THREADPOOL_SIZE).toBe('1');
    const other: NodeJS.ProcessEnv = {};
    expect(preferSmallPool(['vm', 'run'], other, 2)).toBeUndefined();
    expect(other.UV_THREADPOOL_SIZE).toBeUndefined();
    const user: NodeJS.ProcessEnv = { UV_THREADPOOL_SIZE: '8' };
    expect(preferSmallPool(['convert'], user, 2)).toBeUndefined();
    expect(user.UV_THREADPOOL_SIZE).toBe('8');
  });

  it.skipIf(process.platform !== 'linux')('takes effect when called before the first file operation: three threads fewer than libuv’s four', () => {
    const small = threadsAfter(['convert'], 2);
    expect(threadsAfter(['vm'], 2) - small).toBe(3);
    expect(threadsAfter(['convert'], 8)).toBe(small + 3);
    expect(threadsAfter(['convert'], 2, { UV_THREADPOOL_SIZE: '4' })).toBe(small + 3);
  });

  it.skipIf(!existsSync(join(repo, 'dist/cli/main.js')))('bin/lcow.cjs converts a layer (run from dist/, as installed)', () => {
    const tar = pyTar(join(dir, 'l.tar'), 'pax', [
      { name: 'etc', type: 'dir' },
      { name: 'etc/hostname', data: 'layer\n' },
    ]);
    expect(tar.length).toBeGreaterThan(0);
    const out = join(dir, 'l.vhd');
    const r = spawnSync(process.execPath, [join(repo, 'bin/lcow.cjs'), 'convert', '--json', join(dir, 'l.tar'), out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ entries: 2 });
    expect(existsSync(out)).toBe(true);
  });
});
