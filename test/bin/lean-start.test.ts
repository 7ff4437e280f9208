/**
 * What `lcow convert` loads of Node itself: a conversion is a short process,
 * and each of Node's built-in modules it pulls in is compiled at its start
 * (issue 11, round 8: `node:crypto` 7–10 ms, the stream that `process.stderr`
 * builds on a pipe 8–9 ms, `node:fs/promises` ~3 ms, on this project's 2-vCPU
 * machine, against ~0.33 s for a whole node_modules layer). Run from the
 * shipped bin with its stdio on pipes, as an engine or a script runs it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pyTar } from '../helpers/tar-fixtures.js';

const repo = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'lcow-lean-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The built-in modules a process loaded, written at its exit by a preloaded script. */
function modulesLoadedBy(args: string[]): { status: number | null; stdout: string; stderr: string; modules: string[] } {
  const list = join(dir, 'modules.json');
  const probe = join(dir, 'probe.cjs');
  writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(process.moduleLoadList)));\n`);
  const r = spawnSync(process.execPath, ['-r', probe, join(repo, 'bin/lcow.cjs'), ...args], {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const modules = (JSON.parse(readFileSync(list, 'utf8')) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, modules };
}

describe.skipIf(!existsSync(join(repo, 'dist/cli/convert.bundle.cjs')))('lcow convert, started from the bin', () => {
  it('converts without node:crypto, node:v8, node:fs/promises, streams, net or tty', () => {
    pyTar(join(dir, 'l.tar'), 'pax', [
      { name: 'etc', type: 'dir' },
      { name: 'etc/hostname', data: 'layer\n' },
    ]);
    const r = modulesLoadedBy(['convert', '--no-sync', join(dir, 'l.tar'), join(dir, 'l.vhd')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/l\.vhd: .* 2 entries\n$/);
    expect(r.stderr).toBe('');
    for (const unwanted of ['crypto', 'v8', 'stream', 'fs/promises', 'net', 'tty', 'internal/fs/sync_write_stream']) expect(r.modules).not.toContain(unwanted);
  });

  it('still loads what --verity needs, when asked', () => {
    const r = modulesLoadedBy(['convert', '--no-sync', '--verity', join(dir, 'l.tar'), join(dir, 'v.vhd')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/root hash [0-9a-f]{64}\n$/);
    expect(r.modules).toContain('crypto');
  });

  it('an error still reaches stderr', () => {
    const r = modulesLoadedBy(['convert', '--no-sync', join(dir, 'missing.tar'), join(dir, 'm.vhd')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^lcow: ENOTFOUND: /);
  });
});
