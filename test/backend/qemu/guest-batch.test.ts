// The release batch: items pending together share one guest process; each has its own result.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestBatcher, batchScript, parseBatchOutput } from '../../../src/backend/qemu/guest-batch.js';
import { GuestOpsImpl } from '../../../src/backend/qemu/guest-ops.js';
import type { ExecResult } from '../../../src/backend/types.js';
import { isLcowError } from '../../../src/errors.js';

const ok = (stdout: string, exitCode = 0, stderr = ''): ExecResult => ({
  exitCode,
  stdout: Buffer.from(stdout),
  stderr: Buffer.from(stderr),
  truncated: false,
});

/** The items of a batch argv: (op, a, b) triples after `sh -c script sh`. */
function itemsOf(argv: readonly string[]): string[][] {
  const rest = argv.slice(4);
  const out: string[][] = [];
  for (let i = 0; i < rest.length; i += 3) out.push(rest.slice(i, i + 3));
  return out;
}

/** A fake guest: every item succeeds unless `fail` says otherwise; records the batches and how many ran at once. */
function fakeGuest(fail: (item: string[]) => { exitCode: number; stderr: string } | undefined = () => undefined) {
  const batches: string[][][] = [];
  let running = 0;
  let most = 0;
  const run = async (argv: readonly string[]): Promise<ExecResult> => {
    const items = itemsOf(argv);
    batches.push(items);
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return ok(
      items
        .map((item, i) => {
          const f = fail(item);
          return f
            ? `#${i} ${f.exitCode}\n${f.stderr
                .split('\n')
                .map((l) => `|${l}\n`)
                .join('')}`
            : `#${i} 0\n`;
        })
        .join(''),
    );
  };
  return { run, batches, most: () => most };
}

/** Run argv on this host as a guest runner would (stdout and stderr captured), with a time limit. */
function hostRunner(shell: string, seen: number[] = []) {
  return (argv: readonly string[]): Promise<ExecResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(shell, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      seen.push(child.pid!);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (signal) reject(new Error(`batch killed by ${signal}: items did not run side by side`));
        else resolve(ok(Buffer.concat(out).toString(), code ?? -1, Buffer.concat(err).toString()));
      });
    });
}

describe('guest batch', () => {
  it('puts the items submitted in one tick into one guest process, each with its own result', async () => {
    const g = fakeGuest((item) => (item[1] === '/m/2' ? { exitCode: 16, stderr: 'umount: /m/2: busy\nsecond line' } : undefined));
    const b = new GuestBatcher(g.run, 'op_unmount() { :; }');
    const results = await Promise.all([1, 2, 3].map((n) => b.submit('unmount', `/m/${n}`)));
    expect(g.batches).toEqual([
      [
        ['unmount', '/m/1', ''],
        ['unmount', '/m/2', ''],
        ['unmount', '/m/3', ''],
      ],
    ]);
    expect(results).toEqual([
      { exitCode: 0, stderr: '' },
      { exitCode: 16, stderr: 'umount: /m/2: busy\nsecond line' },
      { exitCode: 0, stderr: '' },
    ]);
  });

  it('gathers what arrives while batches run, at most maxItems a process and maxInFlight processes at once', async () => {
    const g = fakeGuest();
    const b = new GuestBatcher(g.run, 'op_x() { :; }', { maxItems: 2, maxInFlight: 1 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => b.submit('x', x)));
    expect(g.batches.map((items) => items.map((i) => i[1]))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(g.most()).toBe(1);

    const wide = fakeGuest();
    const b2 = new GuestBatcher(wide.run, 'op_x() { :; }', { maxItems: 1, maxInFlight: 3 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((x) => b2.submit('x', x)));
    expect(wide.batches).toHaveLength(5);
    expect(wide.most()).toBe(3);
  });

  it('fails every item of a batch whose process fails, and the next batch still runs', async () => {
    let calls = 0;
    const b = new GuestBatcher(async (argv) => {
      calls++;
      if (calls === 1) throw Object.assign(new Error('agent gone'), { code: 'EGUEST' });
      if (calls === 2) return ok('', 2, 'sh: syntax error');
      return ok(
        itemsOf(argv)
          .map((_, i) => `#${i} 0\n`)
          .join(''),
      );
    }, 'op_x() { :; }');
    const first = await Promise.allSettled([b.submit('x', '1'), b.submit('x', '2')]);
    expect(first.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual(['agent gone', 'agent gone']);
    const second = await b.submit('x', '3').catch((e: unknown) => e);
    expect(isLcowError(second, 'EEXEC') && second.context.stderr).toBe('sh: syntax error');
    await expect(b.submit('x', '4')).resolves.toEqual({ exitCode: 0, stderr: '' });
  });

  it('treats a missing or malformed item report as EGUEST, and refuses bad operation names and limits', () => {
    expect(() => parseBatchOutput('#0 0\n', 2)).toThrow(expect.objectContaining({ code: 'EGUEST' }));
    expect(() => parseBatchOutput('#0 zero\n', 1)).toThrow(expect.objectContaining({ code: 'EGUEST' }));
    expect(parseBatchOutput('noise\n#1 3\n|b\n#0 0\n|a\n', 2)).toEqual([
      { exitCode: 0, stderr: 'a' },
      { exitCode: 3, stderr: 'b' },
    ]);
    const b = new GuestBatcher(fakeGuest().run, '');
    expect(() => b.submit('x; reboot', 'a')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => new GuestBatcher(fakeGuest().run, '', { maxItems: 0, maxInFlight: 1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('GuestOpsImpl: an unmount that fails in a batch is EEXEC with its own stderr; the others in the batch succeed', async () => {
    const g = fakeGuest((item) =>
      item[0] === 'unmount' && item[1] === '/run/m/2' ? { exitCode: 1, stderr: "umount: can't unmount /run/m/2: Invalid argument" } : undefined,
    );
    const ops = new GuestOpsImpl(g.run);
    const [a, bad, c] = await Promise.allSettled([ops.unmount('/run/m/1'), ops.unmount('/run/m/2'), ops.releaseVpmem(3)]);
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    const err = bad.status === 'rejected' ? bad.reason : undefined;
    expect(isLcowError(err, 'EEXEC') && err.context).toMatchObject({
      op: 'unmount',
      guestPath: '/run/m/2',
      exitCode: 1,
      stderr: "umount: can't unmount /run/m/2: Invalid argument",
    });
    expect(g.batches).toHaveLength(1);
    expect(g.batches[0]![2]![0]).toBe('release_pmem');
  });
});

// The script itself, run by this host's shells: dash (/bin/sh) and busybox's ash (the guest's shell) where installed.
const shells = [['/bin/sh'], ...(existsSync('/usr/bin/busybox') ? [['/usr/bin/busybox', 'sh']] : [])];
describe.each(shells)('the batch script under %s', (...shell) => {
  const OPS = `
op_wait() { until [ -e "$1" ]; do sleep 0.01; done; echo "waited" >&2; }
op_touch() { : > "$1"; echo "to stdout, discarded"; }
op_fail() { echo "bad: $1|$2" >&2; printf 'line two, no newline' >&2; exit 16; }`;
  const runner = (seen: number[]) => {
    const r = hostRunner(shell[0]!, seen);
    return shell.length > 1 ? (argv: readonly string[]) => r([shell[0]!, 'sh', ...argv.slice(1)]) : r;
  };

  it('runs the items side by side (the first waits for what the last makes), each with its exit code and stderr, and leaves no files', async () => {
    const flag = `/tmp/lcow-batch-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const pids: number[] = [];
    const b = new GuestBatcher(runner(pids), OPS);
    const evil = `$(touch ${flag}.pwned) "quoted" \`x\``;
    const results = await Promise.all([b.submit('wait', flag), b.submit('fail', evil, 'two words'), b.submit('touch', flag)]);
    expect(results).toEqual([
      { exitCode: 0, stderr: 'waited' },
      { exitCode: 16, stderr: `bad: ${evil}|two words\nline two, no newline` },
      { exitCode: 0, stderr: '' },
    ]);
    expect(existsSync(`${flag}.pwned`)).toBe(false);
    expect(pids).toHaveLength(1);
    expect(readdirSync('/tmp').filter((f) => f.startsWith(`.lcow-batch.${pids[0]}.`))).toEqual([]);
    rmSync(flag, { force: true });
  });

  it('reports an operation that does not exist as that item failing', async () => {
    const b = new GuestBatcher(runner([]), OPS);
    const [bad, good] = await Promise.all([b.submit('nosuch', 'a'), b.submit('touch', '/dev/null')]);
    expect(bad.exitCode).toBe(127);
    expect(good).toEqual({ exitCode: 0, stderr: '' });
  });

  it('is a fixed script: the items travel only as positional parameters', () => {
    expect(batchScript(OPS)).not.toContain('eval');
  });
});
