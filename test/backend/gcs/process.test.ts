/**
 * Processes through the bridge against a scripted GCS: stdio listeners made
 * before ExecuteProcess is sent, data both ways, stdin EOF as a shutdown,
 * one WaitForProcess without a time limit, the exec time limit enforced by
 * a second process, and processes with no stdio transport at all.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GcsClient, type GcsConnectOptions } from '../../../src/backend/gcs/index.js';
import { isLcowError, type LcowError } from '../../../src/errors.js';
import { LocalStdio, T, connectedPair, type PeerMessage, type ScriptedGcs } from './scripted-gcs.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function connected(options: GcsConnectOptions = {}): Promise<{ client: GcsClient; peer: ScriptedGcs }> {
  const { host, peer, cleanup } = await connectedPair();
  cleanups.push(cleanup);
  const connecting = GcsClient.connect(host, options);
  await peer.negotiate();
  return { client: await connecting, peer };
}

function params(req: PeerMessage): Record<string, unknown> {
  const settings = req.body.Settings as { ProcessParameters: string };
  expect(typeof settings.ProcessParameters).toBe('string'); // a JSON string inside the JSON, as hcsshim sends it
  return JSON.parse(settings.ProcessParameters) as Record<string, unknown>;
}

function relay(req: PeerMessage): Record<string, number> {
  return (req.body.Settings as { VsockStdioRelaySettings: Record<string, number> }).VsockStdioRelaySettings;
}

function readAll(s: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (b: Buffer) => (text += b.toString()));
    s.on('end', () => resolve(text));
  });
}

describe('GCS processes with a stdio transport', () => {
  it('listens before sending, relays stdin (EOF = shutdown) and both outputs, then one infinite wait', async () => {
    const stdio = new LocalStdio();
    cleanups.push(() => stdio.cleanup());
    const { client, peer } = await connected({ stdio });
    const run = client.exec(['tr', 'a-z', 'A-Z'], { stdin: 'hello gcs\n', env: { LANG: 'C' }, cwd: '/tmp' });

    const exec = await peer.next();
    expect(exec.type).toBe(T.Execute);
    expect(exec.body.ContainerId).toBe('00000000-0000-0000-0000-000000000000');
    expect(params(exec)).toEqual({
      CommandArgs: ['tr', 'a-z', 'A-Z'],
      WorkingDirectory: '/tmp',
      Environment: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
      EmulateConsole: false,
      CreateStdInPipe: true,
      CreateStdOutPipe: true,
      CreateStdErrPipe: true,
      CreateInUtilityVM: true,
    });
    expect(relay(exec)).toEqual({ StdIn: 0x40000001, StdOut: 0x40000002, StdErr: 0x40000003 });
    // The guest dials while it handles the request, before answering: the host must already listen.
    const [inS, outS, errS] = [await stdio.dial(0x40000001), await stdio.dial(0x40000002), await stdio.dial(0x40000003)];
    const input = await readAll(inS); // ends only when the host shut its sending side down
    peer.respond(exec, { ProcessId: 42 });
    const wait = await peer.next();
    expect(wait).toMatchObject({ type: T.Wait, body: { ProcessId: 42, TimeoutInMs: 0xffffffff } });
    outS.end(input.toUpperCase());
    errS.end('a warning\n');
    peer.respond(wait, { ExitCode: 3 });
    const r = await run;
    expect(r).toMatchObject({ exitCode: 3, truncated: false });
    expect(r.stdout.toString()).toBe('HELLO GCS\n');
    expect(r.stderr.toString()).toBe('a warning\n');
  });

  it('ports go up one per stream and are never reused; without stdin there is no stdin pipe; output is capped', async () => {
    const stdio = new LocalStdio();
    cleanups.push(() => stdio.cleanup());
    const { client, peer } = await connected({ stdio });
    for (let i = 0; i < 2; i++) {
      const run = client.exec(['cat', '/big'], { maxOutputBytes: 4 });
      const exec = await peer.next();
      expect(params(exec)).toMatchObject({ CreateStdInPipe: false, CreateStdOutPipe: true, CreateStdErrPipe: true });
      const { StdOut, StdErr } = relay(exec);
      (await stdio.dial(StdOut!)).end('0123456789');
      (await stdio.dial(StdErr!)).end();
      peer.respond(exec, { ProcessId: 10 + i });
      peer.respond(await peer.next(), { ExitCode: 0 });
      const r = await run;
      expect([r.stdout.toString(), r.truncated]).toEqual(['0123', true]);
    }
    expect(stdio.ports).toEqual([0x40000001, 0x40000002, 0x40000003, 0x40000004]);
  });

  it('WaitForProcess has no time limit: a process may outlive requestTimeoutMs', async () => {
    const { client, peer } = await connected({ requestTimeoutMs: 50 });
    const run = client.exec(['sleep', '1']);
    peer.respond(await peer.next(), { ProcessId: 5 });
    const wait = await peer.next();
    await new Promise((r) => setTimeout(r, 200));
    peer.respond(wait, { ExitCode: 0 });
    expect((await run).exitCode).toBe(0);
  });

  it('an exec time limit kills the pid with a second process (kill -9), then rejects ETIMEOUT', async () => {
    const { client, peer } = await connected();
    const run = client.exec(['sleep', '100'], { timeoutMs: 100 });
    peer.respond(await peer.next(), { ProcessId: 7 });
    const wait = await peer.next();
    const kill = await peer.next(); // sent once the limit passed
    expect(params(kill)).toMatchObject({ CommandArgs: ['kill', '-9', '7'], CreateStdInPipe: false, CreateStdOutPipe: false, CreateStdErrPipe: false });
    peer.respond(kill, { ProcessId: 8 });
    const killWait = await peer.next();
    expect(killWait.body).toMatchObject({ ProcessId: 8 });
    peer.respond(killWait, { ExitCode: 0 });
    peer.respond(wait, { ExitCode: 0xffffffff });
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLcowError(err, 'ETIMEOUT') && err.context).toMatchObject({ pid: 7, timeoutMs: 100 });
  });
});

describe('GCS processes without a stdio transport', () => {
  it('run with no pipes and return the exit code (a signal death is -1); stdin is EUNSUPPORTED', async () => {
    const { client, peer } = await connected();
    const run = client.exec(['false']);
    const exec = await peer.next();
    expect(params(exec)).toMatchObject({
      CreateStdInPipe: false,
      CreateStdOutPipe: false,
      CreateStdErrPipe: false,
      Environment: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    expect(relay(exec)).toEqual({});
    peer.respond(exec, { ProcessId: 1 });
    peer.respond(await peer.next(), { ExitCode: 0xffffffff });
    const r = await run;
    expect([r.exitCode, r.stdout.length, r.stderr.length]).toEqual([-1, 0, 0]);
    const err = (await client.exec(['cat'], { stdin: 'x' }).catch((e: unknown) => e)) as LcowError;
    expect(err.code).toBe('EUNSUPPORTED');
  });

  it('a program the GCS cannot start is EGCS with its message; argv is checked before anything is sent', async () => {
    const { client, peer } = await connected();
    const run = client.exec(['/nonexistent']);
    peer.respond(await peer.next(), {
      Result: 0x80004005 | 0,
      ErrorMessage: 'failed to call Start for external process: fork/exec /nonexistent: no such file or directory',
    });
    expect(await run.catch((e: unknown) => e)).toMatchObject({ code: 'EGCS', context: { name: 'E_FAIL', argv: ['/nonexistent'] } });
    expect(await client.exec([]).catch((e: unknown) => e)).toMatchObject({ code: 'EINVAL' });
    expect(await client.exec(['x'], { env: { 'A=B': '1' } }).catch((e: unknown) => e)).toMatchObject({ code: 'EINVAL' });
    expect(peer.received.filter((m) => m.type === T.Execute)).toHaveLength(1);
  });
});
