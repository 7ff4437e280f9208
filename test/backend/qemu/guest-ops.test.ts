// Guest operations as argv: what is sent to the agent, checked with a fake runner.
import { describe, expect, it } from 'vitest';
import { guestArgv, guestEnv } from '../../../src/backend/qemu/guest-exec.js';
import { GuestOpsImpl, mountOptions, overlayOptions } from '../../../src/backend/qemu/guest-ops.js';
import type { ExecResult } from '../../../src/backend/types.js';
import { isLcowError } from '../../../src/errors.js';

function fakeRunner(exitCode = 0) {
  const calls: string[][] = [];
  const run = async (argv: readonly string[]): Promise<ExecResult> => {
    calls.push([...argv]);
    return { exitCode, stdout: Buffer.alloc(0), stderr: Buffer.from('boom'), truncated: false };
  };
  return { calls, ops: new GuestOpsImpl(run) };
}

describe('overlay mount data', () => {
  it('joins lowerdirs with ":" and is read-only without an upper dir', () => {
    expect(overlayOptions({ lowerDirs: ['/l/1', '/l/2'], target: '/t' })).toBe('ro,lowerdir=/l/1:/l/2');
    expect(overlayOptions({ lowerDirs: ['/l/1'], upperDir: '/s/u', workDir: '/s/w', target: '/t' })).toBe('lowerdir=/l/1,upperdir=/s/u,workdir=/s/w');
  });

  it('fits 127 short layer paths in one page and refuses more than a page', () => {
    const lower = Array.from({ length: 127 }, (_, i) => `/run/m/${i}`);
    expect(overlayOptions({ lowerDirs: lower, target: '/t' }).length).toBeLessThan(4096);
    const long = Array.from({ length: 127 }, (_, i) => `/run/mounts/scsi/a-rather-long-layer-folder-name/${i}`);
    expect(() => overlayOptions({ lowerDirs: long, target: '/t' })).toThrow(expect.objectContaining({ code: 'ETOOBIG' }));
  });

  it.each([['/a:b'], ['/a,b'], ['relative']])('refuses the directory %s', (d) => {
    expect(() => overlayOptions({ lowerDirs: [d], target: '/t' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('needs upper and work together', () => {
    expect(() => overlayOptions({ lowerDirs: ['/a'], upperDir: '/u', target: '/t' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('guest argv', () => {
  it('passes values as positional parameters, never inside the script', async () => {
    const { calls, ops } = fakeRunner();
    const evil = '/run/m/$(reboot);`x`';
    await ops.mountScsi({ controller: 1, lun: 7, guestPath: evil, readOnly: true });
    const [argv] = calls;
    expect(argv!.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(argv![2]).not.toContain(evil);
    expect(argv!.slice(3)).toEqual(['sh', '0000:00:05.0', '7', evil, 'ext4', 'ro,noload']);
  });

  it('mounts read-write without noload and with extra options', async () => {
    const { calls, ops } = fakeRunner();
    await ops.mountScsi({ controller: 0, lun: 0, guestPath: '/m', readOnly: false, options: ['discard'] });
    expect(calls[0]!.at(-1)).toBe('rw,discard');
  });

  it('rejects an option that would smuggle in another', async () => {
    expect(() => mountOptions(['ro,exec'])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('turns a non-zero exit into EEXEC with the stderr', async () => {
    const { ops } = fakeRunner(1);
    const err = await ops.unmount('/m').catch((e: unknown) => e);
    expect(isLcowError(err, 'EEXEC')).toBe(true);
    expect((err as { context: Record<string, unknown> }).context.stderr).toBe('boom');
  });

  it('wraps a working directory without touching the argv', () => {
    expect(guestArgv(['ls', '-l'])).toEqual(['ls', '-l']);
    expect(guestArgv(['ls', '$x'], '/a b')).toEqual(['/bin/sh', '-c', 'cd -- "$1" || exit 127; shift; exec "$@"', 'sh', '/a b', 'ls', '$x']);
    expect(() => guestArgv([])).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('adds a PATH to an explicit environment and rejects bad names', () => {
    expect(guestEnv({ A: '1' })).toEqual(['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'A=1']);
    expect(guestEnv(undefined)).toBeUndefined();
    expect(() => guestEnv({ 'A=B': '1' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
