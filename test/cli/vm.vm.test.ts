/**
 * `lcow vm run` against a real QEMU VM, through the same entry point the
 * `lcow` binary uses, in a child process (it writes to stdout and exits with
 * the guest process's code).
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { parseVmRunArgs } from '../../src/cli/vm.js';
import { convertTarToExt4 } from '../../src/layer/index.js';

/** A real layer.vhd converted from a tar of `files` (path → [mode, content]). */
async function layer(dir: string, name: string, files: Record<string, [number, string | Buffer]>): Promise<string> {
  const pack = tar.pack();
  for (const [p, [mode, data]] of Object.entries(files)) pack.entry({ name: p, mode }, data);
  pack.finalize();
  const out = path.join(dir, `${name}.vhd`);
  await convertTarToExt4(pack as unknown as AsyncIterable<Buffer>, out, { whiteouts: true });
  return out;
}

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

function lcow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '-e', `import(${JSON.stringify(MAIN)}).then(m => m.main(process.argv.slice(1))).then(c => { process.exitCode = c; })`, ...args],
      { timeout: 240_000 },
      (err, stdout, stderr) => resolve({ code: err && typeof err.code === 'number' ? err.code : 0, stdout, stderr }),
    );
  });
}

describe('lcow vm run', () => {
  it('rejects bad arguments with typed errors', () => {
    expect(() => parseVmRunArgs([])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => parseVmRunArgs(['--memory', 'lots', '--', 'true'])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => parseVmRunArgs(['--scratch', 'x.vhdx', '--', 'true'])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(parseVmRunArgs(['--layer', 'a', '--layer', 'b', '--', 'echo', '--layer']).layers).toEqual(['a', 'b']);
  });

  it('boots a VM, unions two layers, runs argv as a container (runc: PID 1 in its own namespace, cannot mount), passes the exit code, tears down', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lcow-cli-vm-'));
    const top = await layer(dir, 'top', { 'etc/motd': [0o644, 'from the top\n'], '.wh.gone': [0o644, ''] });
    const base = await layer(dir, 'base', {
      'bin/busybox': [0o755, readFileSync('/bin/busybox')],
      'etc/motd': [0o644, 'from the base\n'],
      'base-only': [0o644, 'b\n'],
      gone: [0o644, 'whited out\n'],
    });
    const r = await lcow([
      'vm',
      'run',
      '--layer',
      top,
      '--layer',
      base,
      '--',
      '/bin/busybox',
      'sh',
      '-c',
      '/bin/busybox cat /etc/motd /base-only; test -e /gone || echo no-gone; echo "$0 $1"; echo "pid $$"; /bin/busybox mount -t tmpfs none /etc 2>/dev/null || echo no-mount; exit 7',
      'a b',
      '$(x)',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('from the top\nb\nno-gone\na b $(x)\npid 1\nno-mount\n');
    expect(r.code).toBe(7);
  });
});
