// Real VM: boot → exec → terminate, and what exec promises: argv passes
// through byte for byte (no shell), stdin in, stdout/stderr apart, exit
// codes, time limits that kill the guest process, output caps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import type { QemuVm } from '../../../src/backend/qemu/index.js';
import { bootTestVm, guestText } from '../../helpers/vm.js';

let vm: QemuVm;

beforeAll(async () => {
  vm = await bootTestVm();
});

afterAll(async () => {
  await vm?.terminate();
});

describe('qemu backend exec', () => {
  it('is running with the properties it was created with', async () => {
    expect(vm.state).toBe('running');
    const p = await vm.properties();
    expect(p).toMatchObject({ backend: 'qemu', state: 'running', memoryMiB: 512, cpus: 1 });
    expect(p.pid).toBeGreaterThan(0);
  });

  it('passes argv through exactly, with no shell in between', async () => {
    const tricky = [
      'a b',
      `"quoted" 'single'`,
      '$(touch /tmp/pwned)',
      '`touch /tmp/pwned2`',
      'line1\nline2',
      'x; touch /tmp/pwned3',
      '*',
      '$HOME',
      '\\',
      'ünïcødé',
    ];
    const r = await vm.exec(['printf', '%s\\0', ...tricky]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString('utf8').split('\0').slice(0, -1)).toEqual(tricky);
    const ls = await guestText(vm, ['/bin/ls', '-a', '/tmp']);
    expect(ls).not.toMatch(/pwned/);
  });

  it('feeds stdin and keeps stdout and stderr apart', async () => {
    const input = Buffer.from([0, 1, 2, 255, 10, 13, 0x7f]);
    const r = await vm.exec(['/bin/sh', '-c', 'cat; echo to-stderr >&2'], { stdin: input });
    expect(r.exitCode).toBe(0);
    expect(Buffer.compare(r.stdout, input)).toBe(0);
    expect(r.stderr.toString()).toBe('to-stderr\n');
    expect(r.truncated).toBe(false);
  });

  it('reports exit codes, environment and working directory', async () => {
    expect((await vm.exec(['/bin/sh', '-c', 'exit 42'])).exitCode).toBe(42);
    const env = await vm.exec(['/bin/sh', '-c', 'printf %s "$GREETING"'], { env: { GREETING: 'a b $(c)' } });
    expect(env.stdout.toString()).toBe('a b $(c)');
    const cwd = await vm.exec(['/bin/pwd'], { cwd: '/sys/kernel' });
    expect(cwd.stdout.toString().trim()).toBe('/sys/kernel');
  });

  it('reports a process killed by a signal', async () => {
    const r = await vm.exec(['/bin/sh', '-c', 'kill -9 $$']);
    expect(r.signal).toBe(9);
  });

  it('kills a process that outlives its time limit and rejects ETIMEOUT', async () => {
    const marker = `/tmp/timeout-${Date.now()}`;
    const err = await vm.exec(['/bin/sh', '-c', 'echo $$ > "$1"; exec sleep 1000', 'sh', marker], { timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(isLcowError(err, 'ETIMEOUT')).toBe(true);
    const pid = (await guestText(vm, ['/bin/cat', marker])).trim();
    // the shell exec'd sleep, so the recorded pid is sleep's: it must be gone
    const alive = await vm.exec(['/bin/kill', '-0', pid]);
    expect(alive.exitCode).not.toBe(0);
    // and the channel still works afterwards
    expect(await guestText(vm, ['/bin/echo', 'still here'])).toBe('still here\n');
  });

  it('caps captured output at maxOutputBytes and says so', async () => {
    const r = await vm.exec(['/bin/sh', '-c', 'head -c 100000 /dev/zero; head -c 10 /dev/zero >&2'], { maxOutputBytes: 1000 });
    expect(r.stdout.length).toBe(1000);
    expect(r.stderr.length).toBe(10);
    expect(r.truncated).toBe(true);
  });

  it('runs requests one at a time even when callers overlap', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => vm.exec(['/bin/echo', String(i)])));
    expect(results.map((r) => r.stdout.toString().trim())).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
  });

  it('terminates, and then rejects calls with EVMSTOPPED', async () => {
    const own = await bootTestVm();
    const dir = own.runtimeDir as string;
    await own.terminate();
    expect(own.state).toBe('stopped');
    expect(await own.waitExit()).toMatchObject({ reason: 'terminated' });
    await own.terminate(); // idempotent
    const err = await own.exec(['/bin/true']).catch((e: unknown) => e);
    expect(isLcowError(err, 'EVMSTOPPED')).toBe(true);
    const { existsSync } = await import('node:fs');
    expect(existsSync(dir)).toBe(false);
  });
});
