/**
 * The bridge client against a scripted GCS over a real socket: the
 * handshake, id matching, time limits, guest errors, every way the stream
 * can be malformed, a peer that hangs up, and notifications.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GcsClient, type GcsConnectOptions } from '../../../src/backend/gcs/index.js';
import { isLcowError, type LcowError } from '../../../src/errors.js';
import { T, connectedPair, frame, type ScriptedGcs } from './scripted-gcs.js';

const NULL_ID = '00000000-0000-0000-0000-000000000000';
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function connected(options: GcsConnectOptions = {}): Promise<{ client: GcsClient; peer: ScriptedGcs; protocolErrors: LcowError[] }> {
  const { host, peer, cleanup } = await connectedPair();
  cleanups.push(cleanup);
  const protocolErrors: LcowError[] = [];
  const connecting = GcsClient.connect(host, { onProtocolError: (e) => protocolErrors.push(e), ...options });
  await peer.negotiate();
  return { client: await connecting, peer, protocolErrors };
}

const mount = (n: number) => ({
  ResourceType: 'MappedVirtualDisk' as const,
  RequestType: 'Add' as const,
  Settings: { MountPath: `/run/m/${n}`, Controller: 0, Lun: n, ReadOnly: true },
});

async function rejection(p: Promise<unknown>): Promise<LcowError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLcowError(err)) throw new Error(`expected an LcowError, got ${String(err)}`);
  return err;
}

describe('GCS bridge: handshake', () => {
  it('negotiates version 4 first, with the null container id, and never again', async () => {
    const { client, peer } = await connected();
    expect(peer.received[0]).toMatchObject({ type: T.Negotiate, id: 1n, body: { ContainerId: NULL_ID, MinimumVersion: 4, MaximumVersion: 4 } });
    expect(client.protocolVersion).toBe(4);
    expect(client.capabilities.RuntimeOsType).toBe('Linux');
    const done = client.modify(mount(1));
    const req = await peer.next();
    expect(req).toMatchObject({ type: T.Modify, id: 2n, body: { ContainerId: NULL_ID, Request: mount(1) } });
    expect(req.size).toBe(16 + JSON.stringify(req.body).length);
    peer.respond(req);
    await done;
    expect(peer.received.filter((m) => m.type === T.Negotiate)).toHaveLength(1);
  });

  it('resume (a guest restored from a template) reuses what an earlier client agreed: no NegotiateProtocol is sent', async () => {
    const { client: first } = await connected();
    const { host, peer, cleanup } = await connectedPair();
    cleanups.push(cleanup);
    const resumed = GcsClient.resume(host, first.negotiated);
    expect([resumed.protocolVersion, resumed.capabilities]).toEqual([4, first.capabilities]);
    const done = resumed.modify(mount(2));
    const req = await peer.next();
    expect(req).toMatchObject({ type: T.Modify, body: { ContainerId: NULL_ID, Request: mount(2) } });
    peer.respond(req);
    await done;
    expect(peer.received.filter((m) => m.type === T.Negotiate)).toHaveLength(0);
    expect(() => GcsClient.resume(host, { protocolVersion: 3, capabilities: {} })).toThrow(expect.objectContaining({ code: 'EBRIDGE' }));
  });

  it('a refused negotiation rejects connect with EGCS; an answer of another version with EBRIDGE', async () => {
    const a = await connectedPair();
    cleanups.push(a.cleanup);
    const refused = GcsClient.connect(a.host);
    a.peer.respond(await a.peer.next(), { Result: 0x80004001 | 0, ErrorMessage: 'bridge: function not supported' });
    const e1 = await rejection(refused);
    expect([e1.code, e1.context.name]).toEqual(['EGCS', 'E_NOTIMPL']);

    const b = await connectedPair();
    cleanups.push(b.cleanup);
    const other = GcsClient.connect(b.host);
    b.peer.respond(await b.peer.next(), { Version: 3 });
    expect(await rejection(other)).toMatchObject({ code: 'EBRIDGE', context: { reason: 'version', version: 3 } });
  });
});

describe('GCS bridge: requests', () => {
  it('matches responses to requests by id, in whatever order they come', async () => {
    const { client, peer } = await connected();
    const results: string[] = [];
    const calls = [1, 2, 3].map((n) =>
      client.modify(mount(n)).then(
        () => results.push(`ok ${n}`),
        (e: unknown) => results.push(`${(e as LcowError).code} ${n} ${String((e as LcowError).context.errorMessage)}`),
      ),
    );
    const reqs = [await peer.next(), await peer.next(), await peer.next()];
    expect(reqs.map((r) => r.id)).toEqual([2n, 3n, 4n]);
    peer.respond(reqs[2]!);
    peer.respond(reqs[1]!, { Result: 0x80004005 | 0, ErrorMessage: 'mount 2 failed' });
    peer.respond(reqs[0]!);
    await Promise.all(calls);
    expect(results).toEqual(['ok 3', 'EGCS 2 mount 2 failed', 'ok 1']);
  });

  it('a request past its time limit is abandoned; the bridge keeps serving, and the late answer is dropped quietly', async () => {
    const { client, peer, protocolErrors } = await connected({ requestTimeoutMs: 150 });
    const slow = client.modify(mount(1));
    const fast = client.modify(mount(2));
    const [r1, r2] = [await peer.next(), await peer.next()];
    peer.respond(r2);
    await fast;
    const err = await rejection(slow);
    expect(err).toMatchObject({ code: 'ETIMEOUT', context: { rpc: 'ModifySettings', resourceType: 'MappedVirtualDisk', timeoutMs: 150 } });
    peer.respond(r1); // late
    const after = client.modify(mount(3));
    peer.respond(await peer.next());
    await after;
    expect(protocolErrors).toEqual([]);
    expect(client.isClosed).toBe(false);
  });

  it("a guest failure is EGCS with the HRESULT, its name, the message and the guest's ErrorRecords", async () => {
    const { client, peer } = await connected();
    const p = client.modify(mount(5));
    const records = [
      {
        Result: 0x80004005 | 0,
        Message: 'open /sys/bus/vmbus/devices/x: no such file or directory',
        StackTrace: 'goroutine 1',
        ModuleName: 'gcs',
        FileName: 'scsi.go',
        Line: 90,
        FunctionName: 'ActualControllerNumber',
      },
    ];
    peer.respond(await peer.next(), { Result: 0x80004005 | 0, ErrorMessage: records[0]!.Message, ErrorRecords: records });
    const err = await rejection(p);
    expect(err.code).toBe('EGCS');
    expect(err.context).toMatchObject({
      hresult: '0x80004005',
      name: 'E_FAIL',
      errorMessage: records[0]!.Message,
      errorRecords: records,
      resourceType: 'MappedVirtualDisk',
      requestType: 'Add',
    });
    expect(err.message).toContain('E_FAIL (0x80004005)');
    expect(err.message).toContain('no such file or directory');

    const q = client.modify(mount(6));
    peer.respond(await peer.next(), { Result: 0xc037010e | 0 });
    expect((await rejection(q)).context).toMatchObject({ name: 'VMCOMPUTE_E_SYSTEM_NOT_FOUND', errorRecords: [] });
  });

  it('container notifications are logged and ignored, whatever container they name', async () => {
    const { client, peer, protocolErrors } = await connected();
    const p = client.modify(mount(1));
    const req = await peer.next();
    peer.raw(frame(T.Notification, 0n, { ContainerId: 'no-such-container', Type: 'UnexpectedExit', Operation: 'None', Result: -1 }));
    peer.respond(req);
    await p;
    expect(protocolErrors).toEqual([]);
  });

  it('DumpStacks returns the stacks; ShutdownForced is sent and needs no answer', async () => {
    const { client, peer } = await connected();
    const stacks = client.dumpStacks();
    const req = await peer.next();
    expect(req).toMatchObject({ type: T.DumpStacks, body: { ContainerId: NULL_ID } });
    peer.respond(req, { GuestStacks: 'goroutine 1 [running]:' });
    expect(await stacks).toBe('goroutine 1 [running]:');
    await client.shutdownForced();
    expect(await peer.next()).toMatchObject({ type: T.ShutdownForced, body: { ContainerId: NULL_ID } });
  });

  it('stop() (the VM is gone) rejects pending and later requests with EVMSTOPPED', async () => {
    const { client, peer } = await connected();
    const p = client.modify(mount(1));
    await peer.next();
    client.stop('qemu exited');
    expect((await rejection(p)).code).toBe('EVMSTOPPED');
    expect((await rejection(client.modify(mount(2)))).code).toBe('EVMSTOPPED');
  });
});

describe('GCS bridge: malformed frames are typed errors, never a crash', () => {
  it('a size under 16 fails every pending request (EBRIDGE bad-size) and closes the bridge', async () => {
    const { client, peer } = await connected();
    const p = client.modify(mount(1));
    const req = await peer.next();
    peer.raw(frame(0x20100a01, req.id, { Result: 0 }, 8));
    const err = await rejection(p);
    expect(err).toMatchObject({ code: 'EBRIDGE', context: { reason: 'bad-size', size: 8, rpc: 'ModifySettings' } });
    expect((await client.closed).context.reason).toBe('bad-size');
    expect((await rejection(client.modify(mount(2)))).context.reason).toBe('bad-size');
  });

  it('a huge size (past maxMessageBytes) is bad-size too, before any body is waited for', async () => {
    const { client, peer } = await connected({ maxMessageBytes: 64 * 1024 });
    const p = client.modify(mount(1));
    const req = await peer.next();
    peer.raw(frame(0x20100a01, req.id, { Result: 0 }, 0xffffff00));
    expect(await rejection(p)).toMatchObject({ code: 'EBRIDGE', context: { reason: 'bad-size', size: 0xffffff00 } });
  });

  it('bad JSON in an answer fails that request (bad-json); the framing holds and the bridge goes on', async () => {
    const { client, peer } = await connected();
    const a = client.modify(mount(1));
    const b = client.modify(mount(2));
    const [ra, rb] = [await peer.next(), await peer.next()];
    peer.raw(frame(0x20100a01, ra.id, '{"Result": 0, '));
    peer.raw(frame(0x20100a01, rb.id, '[0]'));
    expect(await rejection(a)).toMatchObject({ code: 'EBRIDGE', context: { reason: 'bad-json' } });
    expect(await rejection(b)).toMatchObject({ code: 'EBRIDGE', context: { reason: 'bad-json' } });
    const c = client.modify(mount(3));
    peer.respond(await peer.next());
    await c;
  });

  it('an answer to an id never sent, a host-bound request and an answer of the wrong type are reported, not fatal', async () => {
    const { client, peer, protocolErrors } = await connected();
    peer.raw(frame(0x20100a01, 999n, { Result: 0 }));
    peer.raw(frame(T.Modify, 5n, { ContainerId: NULL_ID }));
    peer.raw(frame(T.Notification, 0n, 'not json'));
    const p = client.modify(mount(1));
    const req = await peer.next();
    peer.respond(req, {}, 0x20100501); // an ExecuteProcess answer to a ModifySettings
    expect(await rejection(p)).toMatchObject({ code: 'EBRIDGE', context: { reason: 'type-mismatch' } });
    expect(protocolErrors.map((e) => [e.code, e.context.reason])).toEqual([
      ['EBRIDGE', 'unknown-id'],
      ['EBRIDGE', 'unexpected-type'],
      ['EBRIDGE', 'bad-json'],
    ]);
    const q = client.modify(mount(2));
    peer.respond(await peer.next());
    await q;
  });

  it('a peer that hangs up mid-message fails every pending request (EBRIDGE truncated)', async () => {
    const { client, peer } = await connected();
    const p = client.modify(mount(1));
    const q = client.modify(mount(2));
    const req = await peer.next();
    await peer.next();
    const whole = frame(0x20100a01, req.id, { Result: 0, ActivityId: 'x' });
    peer.raw(whole.subarray(0, 20));
    peer.hangUp();
    for (const r of [p, q]) expect(await rejection(r)).toMatchObject({ code: 'EBRIDGE', context: { reason: 'truncated', bytes: 20 } });
    expect(client.isClosed).toBe(true);
  });

  it('a peer that hangs up between messages fails pending requests with EBRIDGE closed', async () => {
    const { client, peer } = await connected();
    const p = client.modify(mount(1));
    await peer.next();
    peer.hangUp();
    expect(await rejection(p)).toMatchObject({ code: 'EBRIDGE', context: { reason: 'closed' } });
  });
});
