/**
 * The hvsock worker driven end to end through koffi against the ws2_32
 * stand-in (stub/ws2_32-stub.c): a real worker thread loads the stand-in,
 * the test plays the guest by connecting to the unix socket that bind made
 * from the SOCKADDR_HV's GUIDs. Accept, data both ways with backpressure,
 * shutdown, close, the WSAEWOULDBLOCK paths, typed errors, many streams at
 * once, and nothing left behind (sockets, WSAStartup, the thread). What this
 * cannot prove (real AF_HYPERV) is listed in src/backend/hcs/README.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  acquireHvsock,
  liveHvsockWorkers,
  vsockServiceId,
  READ_WINDOW,
  WRITE_WINDOW,
  type HvsockLease,
  type HvsockStream,
} from '../../../src/backend/hcs/hvsock/index.js';
import { rejection } from './helpers.js';
import { buildStubLibrary, type StubLibrary } from './stub-library.js';

const VM = 'c0ffee01-5e1f-4c0d-9a7b-0123456789ab';
const WSAEACCES = 10013;
const WSAECONNABORTED = 10053;
const WSAECONNRESET = 10054;
const WSASYSNOTREADY = 10091;

let stub: StubLibrary;
beforeAll(() => (stub = buildStubLibrary()));
afterAll(() => stub.cleanup());
beforeEach(() => stub.reset());

let lease: HvsockLease | undefined;
async function transport(): Promise<HvsockLease['transport']> {
  lease ??= await acquireHvsock({ library: stub.path, pollIntervalMs: 2 });
  return lease.transport;
}

/** Nothing is left once the last lease is given back: no socket, no Winsock session, no thread. */
afterEach(async () => {
  await lease?.release();
  lease = undefined;
  expect(liveHvsockWorkers()).toBe(0);
  expect(stub.winsock.counter('open')).toBe(0);
  expect(stub.winsock.counter('cleanups')).toBe(stub.winsock.counter('startups'));
});

/** The guest's side: connect to the (VM, service) the host listens on. */
function dial(port: number, vmId = VM): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(stub.winsock.pathOf(vmId, vsockServiceId(port)));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** A listener on `port` and its first connection, dialled by the guest. */
async function pair(port: number): Promise<{ host: HvsockStream; guest: net.Socket }> {
  const listener = await (await transport()).listen(VM, vsockServiceId(port));
  const accepted = listener.accept();
  const guest = await dial(port);
  const host = await accepted;
  listener.close();
  return { host, guest };
}

function readAll(s: Duplex | net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('the hvsock worker against the ws2_32 stand-in', () => {
  it('listens on the SOCKADDR_HV of (RuntimeId, service of the port), accepts, carries data both ways, end() is shutdown(SD_SEND)', async () => {
    const { host, guest } = await pair(0x40000000);
    const bind = stub.calls().find((c) => c.fn === 'bind')!;
    // The GUIDs came back out of the struct's bytes as they went in: Data1-3 little-endian, Data4 in order.
    expect(bind.args.slice(0, 2)).toEqual([VM, '40000000-facb-11e6-bd58-64006a7986d3']);

    const up = readAll(host);
    const down = readAll(guest);
    guest.write('from the guest ');
    host.write('from the host ');
    guest.end('(then EOF)');
    host.end('(then shutdown)');
    expect((await up).toString()).toBe('from the guest (then EOF)');
    expect((await down).toString()).toBe('from the host (then shutdown)');
    // Both sides ended: the socket closes by itself.
    await vi.waitFor(() => expect(host.destroyed).toBe(true));
    await vi.waitFor(() => expect(stub.calls().at(-1)?.fn).toBe('closesocket'));
    const fns = stub.calls().map((c) => c.fn);
    expect(fns).toEqual(['WSAStartup', 'bind', 'listen', 'accept', 'closesocket', 'shutdown', 'closesocket']);
    expect(stub.calls().find((c) => c.fn === 'shutdown')!.args[1]).toBe('SD_SEND');
  });

  it('makes every Winsock call on the one worker thread, none on the main thread', async () => {
    const { host, guest } = await pair(7);
    guest.end('x');
    await readAll(host);
    host.destroy();
    expect(stub.winsock.counter('callsOnLoader')).toBe(0);
    expect(stub.winsock.counter('threads')).toBe(1);
    expect(stub.winsock.counter('startups')).toBe(1);
  });

  it('goes on through spurious WSAEWOULDBLOCK from accept, recv and send, and through short sends', async () => {
    const t = await transport();
    const listener = await t.listen(VM, vsockServiceId(9));
    stub.winsock.wouldBlock('accept', 3);
    const accepted = listener.accept();
    const guest = await dial(9);
    const host = await accepted;
    listener.close();
    stub.winsock.wouldBlock('recv', 3);
    stub.winsock.maxSend(1000);
    const [up, down] = [randomBytes(300_000), randomBytes(300_000)];
    const [gotUp, gotDown] = [readAll(host), readAll(guest)];
    guest.write(up);
    // The stand-in holds one injection at a time: the recv ones must be used up before the send ones replace them.
    await vi.waitFor(() => expect(stub.winsock.counter('wouldBlocks')).toBeGreaterThanOrEqual(6));
    stub.winsock.wouldBlock('send', 3);
    host.end(down);
    guest.end();
    expect(sha(await gotUp)).toBe(sha(up));
    expect(sha(await gotDown)).toBe(sha(down));
    expect(stub.winsock.counter('wouldBlocks')).toBeGreaterThanOrEqual(9);
  });

  it('host → guest backpressure: a guest that does not read stalls the write callbacks; nothing is lost when it reads again', async () => {
    const { host, guest } = await pair(10);
    guest.pause();
    const data = randomBytes(8 * 1024 * 1024);
    let done = false;
    host.write(data, () => (done = true));
    // The unix socket buffers fill, send returns WSAEWOULDBLOCK, the worker's queue passes the window: the callback waits.
    await vi.waitFor(() => expect(stub.winsock.counter('wouldBlocks')).toBeGreaterThan(0));
    await new Promise((r) => setTimeout(r, 100));
    expect(done).toBe(false);
    const got = readAll(guest);
    guest.resume();
    host.end();
    expect(sha(await got)).toBe(sha(data));
    expect(done).toBe(true);
  });

  it('guest → host backpressure: a host that does not read grants no credit, the worker stops recv, the guest’s writes back up; nothing is lost', async () => {
    const { host, guest } = await pair(11);
    const data = randomBytes(8 * 1024 * 1024);
    guest.end(data);
    // Nobody reads the host stream: the worker delivers its window and no more; the guest's socket keeps what it cannot send.
    await new Promise((r) => setTimeout(r, 300));
    expect(guest.writableLength).toBeGreaterThan(0);
    expect(host.readableLength).toBe(READ_WINDOW);
    expect(sha(await readAll(host))).toBe(sha(data));
  });

  it('the write window: callbacks run at once while less than WRITE_WINDOW is queued in the worker', async () => {
    const { host, guest } = await pair(12);
    const got = readAll(guest);
    let called = 0;
    for (let i = 0; i < 8; i++) host.write(Buffer.alloc(WRITE_WINDOW / 16, i), () => called++);
    await new Promise((r) => setImmediate(r));
    expect(called).toBe(8);
    host.end();
    expect((await got).length).toBe(WRITE_WINDOW / 2);
  });

  it('carries many streams at once, each to its own end', async () => {
    const t = await transport();
    const ports = Array.from({ length: 24 }, (_, i) => 0x40000001 + i);
    const listeners = await Promise.all(ports.map((p) => t.listen(VM, vsockServiceId(p))));
    const accepted = listeners.map((l) => l.accept());
    const guests = await Promise.all(ports.map((p) => dial(p)));
    const hosts = await Promise.all(accepted);
    for (const l of listeners) l.close();
    const payloads = ports.map(() => randomBytes(100_000 + Math.floor(Math.random() * 100_000)));
    const replies = ports.map(() => randomBytes(50_000 + Math.floor(Math.random() * 100_000)));
    // Every stream carries its own payload up and its own reply down, all at once.
    await Promise.all(
      hosts.map(async (h, i) => {
        const [gotUp, gotDown] = [readAll(h), readAll(guests[i]!)];
        guests[i]!.end(payloads[i]!);
        h.end(replies[i]!);
        expect(sha(await gotUp)).toBe(sha(payloads[i]!));
        expect(sha(await gotDown)).toBe(sha(replies[i]!));
      }),
    );
    expect(stub.calls().filter((c) => c.fn === 'accept')).toHaveLength(24);
  });

  it('WSAECONNABORTED from recv is a clean EOF (as hcsshim reads it); WSAECONNRESET is a typed error', async () => {
    const a = await pair(20);
    stub.winsock.fail('recv', WSAECONNABORTED);
    a.guest.write('x'); // wakes the poll; the injected recv error answers it
    expect((await readAll(a.host)).length).toBe(0);
    a.guest.destroy();

    const b = await pair(21);
    stub.winsock.fail('recv', WSAECONNRESET);
    b.guest.write('x');
    const err = await rejection(readAll(b.host));
    expect(err.code).toBe('EHVSOCK');
    expect(err.context).toMatchObject({ call: 'recv', wsaError: WSAECONNRESET, name: 'WSAECONNRESET', serviceId: vsockServiceId(21) });
    b.guest.destroy();
    await vi.waitFor(() => expect(stub.winsock.counter('open')).toBe(0)); // the broken stream was closed too
  });

  it('a send error destroys the stream with a typed error', async () => {
    const { host, guest } = await pair(22);
    stub.winsock.fail('send', WSAECONNRESET);
    const err = await rejection(new Promise((_, reject) => host.once('error', reject).write('doomed')));
    expect(err.context).toMatchObject({ call: 'send', name: 'WSAECONNRESET' });
    guest.destroy();
  });

  it('a bind the host may not make is EHVSOCK with its call and name, and leaves no socket open', async () => {
    const t = await transport();
    stub.winsock.fail('bind', WSAEACCES);
    const err = await rejection(t.listen(VM, vsockServiceId(1)));
    expect(err.code).toBe('EHVSOCK');
    expect(err.message).toBe('hvsock bind failed: WSAEACCES (10013)');
    expect(err.context).toMatchObject({ call: 'bind', wsaError: WSAEACCES, name: 'WSAEACCES', vmId: VM, serviceId: vsockServiceId(1) });
    expect(stub.winsock.counter('open')).toBe(0);
    // The same address twice: WSAEADDRINUSE from the real bind.
    const first = await t.listen(VM, vsockServiceId(2));
    expect((await rejection(t.listen(VM, vsockServiceId(2)))).context).toMatchObject({ call: 'bind', name: 'WSAEADDRINUSE' });
    first.close();
  });

  it('closing a listener fails its waiting accept; a bad GUID is EINVAL before any call', async () => {
    const t = await transport();
    const l = await t.listen(VM, vsockServiceId(3));
    const waiting = l.accept();
    l.close();
    expect((await rejection(waiting)).context).toMatchObject({ call: 'accept', reason: 'closed' });
    expect((await rejection(l.accept())).context).toMatchObject({ reason: 'closed' });
    expect((await rejection(t.listen('not-a-guid', vsockServiceId(3)))).code).toBe('EINVAL');
  });

  it('a failed WSAStartup is a typed error and leaves no thread behind', async () => {
    stub.winsock.fail('WSAStartup', WSASYSNOTREADY);
    const err = await rejection(acquireHvsock({ library: stub.path }));
    expect(err.context).toMatchObject({ call: 'WSAStartup', name: 'WSASYSNOTREADY' });
    await vi.waitFor(() => expect(liveHvsockWorkers()).toBe(0));
    expect(stub.winsock.counter('startups')).toBe(0);
  });

  it('a library that cannot be loaded is EPLATFORM', async () => {
    const err = await rejection(acquireHvsock({ library: '/nonexistent/ws2_32.so' }));
    expect(err.code).toBe('EPLATFORM');
    await vi.waitFor(() => expect(liveHvsockWorkers()).toBe(0));
  });

  it('one worker per process: leases share it, the last release stops it and closes what is still open', async () => {
    const first = await acquireHvsock({ library: stub.path });
    const second = await acquireHvsock({ library: stub.path });
    expect(second.transport).toBe(first.transport);
    expect(liveHvsockWorkers()).toBe(1);
    const l = await first.transport.listen(VM, vsockServiceId(5));
    const waiting = rejection(l.accept());
    const accepted = (await first.transport.listen(VM, vsockServiceId(6))).accept();
    const guest = await dial(6);
    const stream = await accepted;
    const guestSaw = readAll(guest);
    await first.release();
    expect(liveHvsockWorkers()).toBe(1);
    await second.release();
    expect(liveHvsockWorkers()).toBe(0);
    // Stopping closed both listeners and the stream: the accept failed, the stream closed (without an error), the guest saw EOF.
    expect((await waiting).context).toMatchObject({ reason: 'closed' });
    expect(stream.destroyed).toBe(true);
    expect((await guestSaw).length).toBe(0);
    expect(stub.winsock.counter('threads')).toBe(1);
  });
});
