// runContainer's guest traffic, against a scripted exec: argv stays an
// array, runc's log tells "did not start" from "exited non-zero", a time
// limit deletes the container, and the bundle is always removed.
import { describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult } from '../../src/backend/index.js';
import { LcowError } from '../../src/errors.js';
import { runContainer, runtimeError } from '../../src/driver/container-run.js';

type Reply = Partial<ExecResult> | LcowError;

function scripted(...replies: Reply[]) {
  const calls: { argv: readonly string[]; options?: ExecOptions }[] = [];
  const exec = async (argv: readonly string[], options?: ExecOptions): Promise<ExecResult> => {
    calls.push({ argv, options });
    const r = replies.shift() ?? {};
    if (r instanceof LcowError) throw r;
    return { exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), truncated: false, ...r };
  };
  return { exec, calls };
}

const run = { rootfs: '/run/lcow/r1/rootfs', readonlyRootfs: false, id: 'r1-1', hostname: 'ctr', args: ['/bin/echo', '$(reboot)', 'a b'], timeoutMs: 1000 };

describe('runContainer', () => {
  it('runs runc with the config as one argv element, passes stdin and output through, then removes the bundle', async () => {
    const { exec, calls } = scripted({ exitCode: 3, stdout: Buffer.from('out'), stderr: Buffer.from('err') }, { stdout: Buffer.from('') });
    const r = await runContainer(exec, run, { stdin: 'in', env: { A: '1' }, cwd: '/w', maxOutputBytes: 10 });
    expect(r).toMatchObject({ exitCode: 3 });
    expect(r.stdout.toString()).toBe('out');
    expect(calls).toHaveLength(2);
    const [sh, c, script, name, bundle, id, config] = calls[0]!.argv;
    expect([sh, c, name, bundle, id]).toEqual(['sh', '-c', 'run', '/run/lcow/bundles/r1-1', 'r1-1']);
    expect(script).toContain('exec runc');
    expect(script).not.toContain('r1-1'); // values only as positional parameters
    const parsed = JSON.parse(config!);
    expect(parsed.process).toMatchObject({ args: run.args, cwd: '/w', env: expect.arrayContaining(['A=1']) });
    expect(calls[0]!.options).toEqual({ stdin: 'in', maxOutputBytes: 10, timeoutMs: 1000 });
    expect(calls[1]!.argv.slice(3)).toEqual(['finish', '/run/lcow/bundles/r1-1', '']); // nothing to kill
  });

  it('a process runc could not start is EGUEST with runc’s message', async () => {
    const log = '{"level":"warning","msg":"w"}\n{"level":"error","msg":"runc run failed: exec: \\"/nope\\": no such file"}\n';
    const { exec } = scripted({ exitCode: 1 }, { stdout: Buffer.from(log) });
    await expect(runContainer(exec, run)).rejects.toMatchObject({ code: 'EGUEST', context: { runtimeError: 'runc run failed: exec: "/nope": no such file' } });
  });

  it('a time limit deletes the container (runc delete --force) before ETIMEOUT reaches the caller', async () => {
    const { exec, calls } = scripted(new LcowError('ETIMEOUT', 'slow'), {});
    await expect(runContainer(exec, run, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'ETIMEOUT' });
    expect(calls[0]!.options?.timeoutMs).toBe(50);
    expect(calls[1]!.argv.slice(3)).toEqual(['finish', '/run/lcow/bundles/r1-1', 'r1-1']);
    expect(calls[1]!.argv[2]).toContain('runc delete --force "$2"');
  });

  it('a stopped VM needs no cleanup; an oversized config is ETOOBIG before the guest sees it', async () => {
    const stopped = scripted(new LcowError('EVMSTOPPED', 'gone'));
    await expect(runContainer(stopped.exec, run)).rejects.toMatchObject({ code: 'EVMSTOPPED' });
    expect(stopped.calls).toHaveLength(1);
    const big = scripted();
    await expect(runContainer(big.exec, { ...run, args: ['x'.repeat(200_000)] })).rejects.toMatchObject({ code: 'ETOOBIG' });
    expect(big.calls).toHaveLength(0);
  });

  it('runtimeError reads only error entries of runc’s JSON log', () => {
    expect(runtimeError('')).toBeUndefined();
    expect(runtimeError('{"level":"info","msg":"x"}\nnot json\n')).toBeUndefined();
    expect(runtimeError('{"level":"fatal","msg":"boom"}')).toBe('boom');
  });
});
