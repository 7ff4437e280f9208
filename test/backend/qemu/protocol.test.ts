// QMP and guest-agent framing against fake servers on real unix sockets.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GuestAgentClient } from '../../../src/backend/qemu/guest-agent-client.js';
import { guestExec } from '../../../src/backend/qemu/guest-exec.js';
import { JsonLineSplitter } from '../../../src/backend/qemu/json-lines.js';
import { QmpClient } from '../../../src/backend/qemu/qmp-client.js';
import { connectUnixSocket } from '../../../src/backend/qemu/unix-socket.js';
import { isLcowError } from '../../../src/errors.js';

type Json = Record<string, unknown>;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A server that hands each parsed request to `onRequest(msg, reply)`. */
async function fakeServer(onConnect: (sock: net.Socket) => void, onRequest: (msg: Json, sock: net.Socket) => void): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lcow-proto-'));
  const file = path.join(dir, 's.sock');
  const server = net.createServer((sock) => {
    onConnect(sock);
    const split = new JsonLineSplitter((m) => onRequest(m, sock));
    sock.on('data', (b: Buffer) => split.push(b));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(file, r));
  cleanups.push(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return file;
}

const send = (sock: net.Socket, m: Json): boolean => sock.write(JSON.stringify(m) + '\n');

describe('JsonLineSplitter', () => {
  it('splits lines across chunks and treats 0xFF as "drop what came before"', () => {
    const got: Json[] = [];
    let markers = 0;
    const s = new JsonLineSplitter(
      (m) => got.push(m),
      undefined,
      () => markers++,
    );
    s.push(Buffer.from('{"a":'));
    s.push(Buffer.from('1}\n{"b":2}\n{"stale'));
    s.push(Buffer.concat([Buffer.from([0xff]), Buffer.from('{"c":3}\n')]));
    expect(got).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
    expect(markers).toBe(1);
  });
});

describe('QmpClient', () => {
  async function connect(onRequest: (msg: Json, sock: net.Socket) => void): Promise<QmpClient> {
    const file = await fakeServer(
      (sock) => send(sock, { QMP: { version: {}, capabilities: [] } }),
      (msg, sock) => (msg.execute === 'qmp_capabilities' ? send(sock, { return: {}, id: msg.id }) : onRequest(msg, sock)),
    );
    return QmpClient.handshake(await connectUnixSocket(file, Date.now() + 5000), 5000);
  }

  it('matches answers to requests by id, whatever order they come in', async () => {
    const held: Array<[Json, net.Socket]> = [];
    const qmp = await connect((msg, sock) => {
      held.push([msg, sock]);
      if (held.length === 2) for (const [m, s] of held.reverse()) send(s, { return: { echo: m.execute }, id: m.id });
    });
    const [a, b] = await Promise.all([qmp.execute('query-a'), qmp.execute('query-b')]);
    expect(a).toEqual({ echo: 'query-a' });
    expect(b).toEqual({ echo: 'query-b' });
    qmp.stop('done');
  });

  it('turns an error answer into EQMP with its class', async () => {
    const qmp = await connect((msg, sock) => send(sock, { error: { class: 'DeviceNotFound', desc: 'no such device' }, id: msg.id }));
    const err = await qmp.execute('device_del', { id: 'x' }).catch((e: unknown) => e);
    expect(isLcowError(err, 'EQMP')).toBe(true);
    expect((err as { context: Json }).context.errorClass).toBe('DeviceNotFound');
    qmp.stop('done');
  });

  it('delivers events, also when they arrive before the command answer', async () => {
    const qmp = await connect((msg, sock) => {
      send(sock, { event: 'DEVICE_DELETED', data: { device: 'disk1' }, timestamp: { seconds: 1, microseconds: 0 } });
      send(sock, { return: {}, id: msg.id });
    });
    const seen: string[] = [];
    qmp.on('event', (e) => seen.push(e.event));
    const gone = qmp.waitForEvent('DEVICE_DELETED', (d) => d.device === 'disk1', 5000);
    await qmp.execute('device_del', { id: 'disk1' });
    expect((await gone).data).toEqual({ device: 'disk1' });
    expect(seen).toEqual(['DEVICE_DELETED']);
    qmp.stop('done');
  });

  it('rejects pending commands and event waits with EVMSTOPPED when the socket closes', async () => {
    let server: net.Socket | undefined;
    const qmp = await connect((_msg, sock) => {
      server = sock;
    });
    const pending = qmp.execute('never-answered').catch((e: unknown) => e);
    const waiting = qmp.waitForEvent('SHUTDOWN', () => true, 60_000).catch((e: unknown) => e);
    while (!server) await new Promise((r) => setTimeout(r, 5));
    server.destroy();
    expect(isLcowError(await pending, 'EVMSTOPPED')).toBe(true);
    expect(isLcowError(await waiting, 'EVMSTOPPED')).toBe(true);
    expect(isLcowError(await qmp.execute('after').catch((e: unknown) => e), 'EVMSTOPPED')).toBe(true);
  });
});

describe('GuestAgentClient', () => {
  /** A fake qemu-ga: ignores the first `deafSyncs` syncs (guest not up yet), complains about 0xFF like the real one. */
  async function agent(handler: (msg: Json, sock: net.Socket) => void, deafSyncs = 0): Promise<{ client: GuestAgentClient; requests: Json[] }> {
    const requests: Json[] = [];
    let syncs = 0;
    const file = await fakeServer(
      () => undefined,
      (msg, sock) => {
        requests.push(msg);
        if (msg.execute === 'guest-sync-delimited') {
          if (syncs++ < deafSyncs) return;
          send(sock, { error: { class: 'GenericError', desc: "JSON parse error, stray '\\uFFFD'" } });
          sock.write(Buffer.from([0xff]));
          send(sock, { return: (msg.arguments as Json).id });
          return;
        }
        handler(msg, sock);
      },
    );
    return { client: new GuestAgentClient(await connectUnixSocket(file, Date.now() + 5000)), requests };
  }

  it('retries the sync until the guest answers, skipping stale output', async () => {
    const { client, requests } = await agent(() => undefined, 2);
    await client.waitReady(Date.now() + 10_000, 50);
    expect(requests.filter((r) => r.execute === 'guest-sync-delimited').length).toBe(3);
    client.stop('done');
  });

  it('runs guest-exec and polls its status until it exits', async () => {
    let polls = 0;
    const { client, requests } = await agent((msg, sock) => {
      if (msg.execute === 'guest-exec') send(sock, { return: { pid: 77 } });
      else if (msg.execute === 'guest-exec-status') {
        polls++;
        if (polls < 3) send(sock, { return: { exited: false } });
        else send(sock, { return: { exited: true, exitcode: 3, 'out-data': Buffer.from('hi').toString('base64'), 'err-truncated': true } });
      }
    });
    await client.waitReady(Date.now() + 5000);
    const r = await guestExec(client, ['prog', 'a b'], { stdin: 'in', env: { X: '1' } }, { requestTimeoutMs: 5000 });
    expect(r).toMatchObject({ exitCode: 3, truncated: true });
    expect(r.stdout.toString()).toBe('hi');
    const exec = requests.find((q) => q.execute === 'guest-exec') as Json;
    expect(exec.arguments).toEqual({
      path: 'prog',
      arg: ['a b'],
      'capture-output': true,
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'X=1'],
      'input-data': Buffer.from('in').toString('base64'),
    });
    client.stop('done');
  });

  it('resyncs after a request timed out so a late answer is not taken for the next one', async () => {
    let n = 0;
    const { client, requests } = await agent((msg, sock) => {
      n++;
      if (n === 1) setTimeout(() => send(sock, { return: 'late' }), 100);
      else send(sock, { return: 'fresh' });
    });
    await client.waitReady(Date.now() + 5000);
    const first = await client.request('guest-info', undefined, 20).catch((e: unknown) => e);
    expect(isLcowError(first, 'ETIMEOUT')).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(await client.request('guest-info', undefined, 5000)).toBe('fresh');
    expect(requests.filter((r) => r.execute === 'guest-sync-delimited').length).toBe(2);
    client.stop('done');
  });

  it('rejects the pending and the queued requests with EVMSTOPPED on stop', async () => {
    const { client } = await agent(() => undefined);
    await client.waitReady(Date.now() + 5000);
    const a = client.request('guest-info', undefined, 60_000).catch((e: unknown) => e);
    const b = client.request('guest-info', undefined, 60_000).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    client.stop('VM gone');
    expect(isLcowError(await a, 'EVMSTOPPED')).toBe(true);
    expect(isLcowError(await b, 'EVMSTOPPED')).toBe(true);
  });

  it('answers an agent error with EGUEST', async () => {
    const { client } = await agent((_m, sock) => send(sock, { error: { class: 'GenericError', desc: 'nope' } }));
    await client.waitReady(Date.now() + 5000);
    expect(isLcowError(await client.request('guest-exec', {}, 5000).catch((e: unknown) => e), 'EGUEST')).toBe(true);
    client.stop('done');
  });
});
