/**
 * HcsVm end to end with its default guest side, against both stand-ins in one
 * library (stub/computecore-stub.c for HCS, stub/ws2_32-stub.c for Winsock)
 * and a scripted GCS (../gcs/scripted-gcs.ts) on the guest end of the bridge
 * socket. The test plays the booting VM: once HcsStartComputeSystem has been
 * called it dials the entropy port, the log port and the bridge, as the init
 * and the GCS do; then it answers bridge requests and dials the stdio ports
 * of each exec. What only a Windows host can prove is listed in
 * src/backend/hcs/README.md.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../../src/log.js';
import { HcsBackend, liveHvsockWorkers, vsockServiceId, type HcsBackendOptions, type HcsVm } from '../../../src/backend/hcs/index.js';
import { eventLoopHolders } from '../../../src/backend/hcs/native/keepalive.js';
import { ScriptedGcs, T, type PeerMessage } from '../gcs/scripted-gcs.js';
import { rejection, vmSpec } from './helpers.js';
import { buildStubLibrary, type StubLibrary } from './stub-library.js';

const BRIDGE = 0x40000000;
const ENTROPY = 1;
const LOGS = 109;
const WSAEACCES = 10013;

let stub: StubLibrary;
beforeAll(() => (stub = buildStubLibrary()));
afterAll(() => stub.cleanup());
beforeEach(() => stub.reset());

/** Every VM terminated: no hvsock thread, no socket, no Winsock session, no HCS operation or string left. */
afterEach(async () => {
  await vi.waitFor(() => expect(eventLoopHolders()).toBe(0));
  expect(liveHvsockWorkers()).toBe(0);
  expect(stub.winsock.counter('open')).toBe(0);
  expect(stub.winsock.counter('cleanups')).toBe(stub.winsock.counter('startups'));
  expect(stub.counter('opsClosed')).toBe(stub.counter('opsCreated'));
  expect(stub.counter('frees')).toBe(stub.counter('allocs'));
  expect(stub.counter('violations')).toBe(0);
});

interface LogEntry {
  level: string;
  bindings: Record<string, unknown>;
  args: unknown[];
}

function capturingLogger(entries: LogEntry[], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (...args: unknown[]): void =>
      void entries.push({ level, bindings, args });
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => capturingLogger(entries, { ...bindings, ...more }),
  };
}

function backend(extra: Partial<HcsBackendOptions> = {}): HcsBackend {
  return new HcsBackend({
    libraries: stub.libraries,
    owner: 'test',
    hvsock: { pollIntervalMs: 2, connectTimeoutMs: 10_000, requestTimeoutMs: 5_000 },
    ...extra,
  });
}

/** The guest's side: connect to a port of the VM (its RuntimeId), as the init and the GCS do. */
function dial(vm: HcsVm, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(stub.winsock.pathOf(vm.runtimeId!, vsockServiceId(port)));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** A guest end that keeps its side open after the host's EOF (as a guest relay that never closes would). */
function dialHalfOpen(vm: HcsVm, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ path: stub.winsock.pathOf(vm.runtimeId!, vsockServiceId(port)), allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function starts(): number {
  return stub.calls().filter((c) => c.fn === 'HcsStartComputeSystem').length;
}

function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (b: Buffer) => chunks.push(b));
    s.once('end', () => resolve(Buffer.concat(chunks)));
    s.once('error', reject);
  });
}

interface Booted {
  peer: ScriptedGcs;
  entropy: Buffer;
  negotiate: PeerMessage;
}

/**
 * Start the VM and boot it as its init would: once HcsStartComputeSystem is called, read the
 * entropy, send two log lines, then answer the negotiation on the bridge.
 */
async function boot(vm: HcsVm): Promise<Booted> {
  const startsBefore = starts();
  const starting = vm.start();
  starting.catch(() => undefined);
  await vi.waitFor(() => expect(starts()).toBe(startsBefore + 1));
  const entropy = readAll(await dial(vm, ENTROPY));
  const logs = await dial(vm, LOGS);
  logs.write('gcs: starting\npartial ');
  logs.write('line, then more\n');
  const peer = new ScriptedGcs(await dial(vm, BRIDGE));
  const negotiate = await peer.negotiate();
  await starting;
  return { peer, entropy: await entropy, negotiate };
}

function params(req: PeerMessage): Record<string, unknown> {
  return JSON.parse((req.body.Settings as { ProcessParameters: string }).ProcessParameters) as Record<string, unknown>;
}

function relay(req: PeerMessage): Record<string, number> {
  return (req.body.Settings as { VsockStdioRelaySettings: Record<string, number> }).VsockStdioRelaySettings;
}

describe('HcsVm over hvsockets, against the computecore and ws2_32 stand-ins and a scripted GCS', () => {
  it('listens on entropy, logs and the bridge of its RuntimeId before HcsStartComputeSystem; serves 512 random bytes, logs each line, negotiates', async () => {
    const entries: LogEntry[] = [];
    const vm = await backend({ logger: capturingLogger(entries) }).createVm(vmSpec('vm-boot'));
    const { entropy, negotiate, peer } = await boot(vm);
    expect(vm.state).toBe('running');

    const calls = stub.calls();
    const fns = calls.map((c) => c.fn);
    const binds = calls.filter((c) => c.fn === 'bind');
    // Bound to the VM GUID HCS reported, on the service GUIDs of ports 1, 109 and 0x40000000 …
    expect(binds.map((c) => c.args.slice(0, 2))).toEqual([
      [vm.runtimeId, '00000001-facb-11e6-bd58-64006a7986d3'],
      [vm.runtimeId, '0000006d-facb-11e6-bd58-64006a7986d3'],
      [vm.runtimeId, '40000000-facb-11e6-bd58-64006a7986d3'],
    ]);
    // … and all three listening before the VM was started.
    const started = fns.indexOf('HcsStartComputeSystem');
    expect(fns.indexOf('HcsGetComputeSystemProperties')).toBeLessThan(fns.indexOf('bind'));
    expect(fns.lastIndexOf('listen')).toBeLessThan(started);

    expect(entropy.length).toBe(512);
    expect(new Set(entropy).size).toBeGreaterThan(100); // random, not a constant fill
    const guestLines = entries.filter((e) => e.bindings.component === 'guest-log').map((e) => e.args[0]);
    expect(guestLines).toEqual(['gcs: starting', 'partial line, then more']);
    expect(negotiate).toMatchObject({ type: T.Negotiate, body: { MinimumVersion: 4, MaximumVersion: 4 } });

    await terminate(vm, peer);
  });

  it('carries a mount, a union, an exec with stdio over hvsock streams and a time limit through the bridge; terminate sends ShutdownForced and leaves nothing behind', async () => {
    const vm = await backend().createVm(vmSpec('vm-work'));
    const { peer } = await boot(vm);

    const mount = vm.mountScsi({ controller: 0, lun: 3, guestPath: '/run/mounts/m0', readOnly: true });
    const m = await peer.next();
    expect(m).toMatchObject({ type: T.Modify, body: { Request: { ResourceType: 'MappedVirtualDisk', RequestType: 'Add' } } });
    peer.respond(m);
    await mount;

    const union = vm.combineLayers({
      lowerDirs: ['/run/mounts/m0'],
      upperDir: '/run/c1/scratch/upper',
      workDir: '/run/c1/scratch/work',
      target: '/run/c1/rootfs',
    });
    const u = await peer.next();
    expect(u).toMatchObject({ body: { Request: { ResourceType: 'CombinedLayers', RequestType: 'Add' } } });
    peer.respond(u);
    await union;

    // exec with stdin, stdout and stderr, each its own hvsocket the guest dials
    const run = vm.exec(['tr', 'a-z', 'A-Z'], { stdin: 'hello over hvsock\n', cwd: '/tmp' });
    const exec = await peer.next();
    expect(exec.type).toBe(T.Execute);
    expect(params(exec)).toMatchObject({ CommandArgs: ['tr', 'a-z', 'A-Z'], WorkingDirectory: '/tmp', CreateStdInPipe: true });
    const ports = relay(exec);
    expect(ports).toEqual({ StdIn: 0x40000001, StdOut: 0x40000002, StdErr: 0x40000003 });
    const [stdin, stdout, stderr] = [await dial(vm, ports.StdIn!), await dial(vm, ports.StdOut!), await dial(vm, ports.StdErr!)];
    const input = await readAll(stdin); // ends when the host shuts its sending side down
    peer.respond(exec, { ProcessId: 42 });
    const wait = await peer.next();
    expect(wait).toMatchObject({ type: T.Wait, body: { ProcessId: 42, TimeoutInMs: 0xffffffff } });
    stdout.end(input.toString().toUpperCase());
    stderr.end('tr: a warning\n');
    stdin.end();
    peer.respond(wait, { ExitCode: 0 });
    const r = await run;
    expect(r).toMatchObject({ exitCode: 0, truncated: false });
    expect(r.stdout.toString()).toBe('HELLO OVER HVSOCK\n');
    expect(r.stderr.toString()).toBe('tr: a warning\n');

    // a time limit: the process is killed by a second one, `kill -9 <pid>`
    const slow = vm.exec(['sleep', '60'], { timeoutMs: 200 });
    const sleep = await peer.next();
    const outs = relay(sleep);
    const sockets = [await dial(vm, outs.StdOut!), await dial(vm, outs.StdErr!)];
    peer.respond(sleep, { ProcessId: 43 });
    const sleepWait = await peer.next();
    const kill = await peer.next();
    expect(params(kill)).toMatchObject({ CommandArgs: ['kill', '-9', '43'], CreateStdOutPipe: false });
    peer.respond(kill, { ProcessId: 44 });
    peer.respond(await peer.next(), { ExitCode: 0 });
    peer.respond(sleepWait, { ExitCode: 0xffffffff });
    const err = await rejection(slow);
    expect(err.code).toBe('ETIMEOUT');
    expect(err.context).toMatchObject({ pid: 43, timeoutMs: 200 });
    for (const s of sockets) s.destroy();

    // No process ran through HCS: every one went over the bridge.
    expect(stub.calls().map((c) => c.fn)).not.toContain('HcsCreateProcess');
    await terminate(vm, peer);
  });

  it('a guest that never connects: start rejects EVMSTART naming the port, the VM is terminated, nothing is left', async () => {
    const vm = await backend({ hvsock: { pollIntervalMs: 2, connectTimeoutMs: 300 } }).createVm(vmSpec('vm-silent'));
    const err = await rejection(vm.start());
    expect(err.code).toBe('EVMSTART');
    expect(err.context).toMatchObject({ port: ENTROPY, serviceId: vsockServiceId(ENTROPY), runtimeId: vm.runtimeId });
    expect(vm.state).toBe('stopped');
    expect(stub.calls().map((c) => c.fn)).toContain('HcsTerminateComputeSystem');
  });

  it('a listener the host may not make (no rights for the hvsocket): start rejects EHVSOCK before the VM is started', async () => {
    const vm = await backend().createVm(vmSpec('vm-denied'));
    stub.winsock.fail('bind', WSAEACCES);
    const err = await rejection(vm.start());
    expect(err.context).toMatchObject({ call: 'bind', name: 'WSAEACCES', serviceId: vsockServiceId(ENTROPY) });
    expect(stub.calls().map((c) => c.fn)).not.toContain('HcsStartComputeSystem');
    expect(vm.state).toBe('created');
    await vm.terminate();
  });

  it('the VM exits on its own: pending GCS requests reject EVMSTOPPED, the bridge and the worker are gone', async () => {
    const vm = await backend().createVm(vmSpec('vm-crash'));
    const { peer } = await boot(vm);
    const pending = vm.mountVpmem({ slot: 1, guestPath: '/run/layers/p1' });
    await peer.next(); // never answered
    const bridgeClosed = readAll(peer.socket);
    stub.fireExit();
    expect((await rejection(pending)).code).toBe('EVMSTOPPED');
    expect((await vm.waitExit()).reason).toBe('exited');
    await bridgeClosed; // the host closed its end
    await vm.terminate();
  });

  it('two VMs share one hvsock worker; it stops with the last one', async () => {
    const b = backend();
    const [a, c] = [await b.createVm(vmSpec('vm-a')), await b.createVm(vmSpec('vm-c'))];
    expect(a.runtimeId).not.toBe(c.runtimeId);
    const bootedA = await boot(a);
    const bootedC = await boot(c);
    expect(liveHvsockWorkers()).toBe(1);
    expect(stub.winsock.counter('threads')).toBe(1);

    // A process whose guest side never closes its stdin connection: the stream outlives the exec …
    const run = a.exec(['cat'], { stdin: 'x' });
    const exec = await bootedA.peer.next();
    const ports = relay(exec);
    const stdin = await dialHalfOpen(a, ports.StdIn!);
    const outs = [await dial(a, ports.StdOut!), await dial(a, ports.StdErr!)];
    await readAll(stdin);
    bootedA.peer.respond(exec, { ProcessId: 7 });
    bootedA.peer.respond(await bootedA.peer.next(), { ExitCode: 0 });
    for (const o of outs) o.end();
    await run;
    const stdinClosed = (): number =>
      stub.calls().filter((c) => c.fn === 'closesocket' && c.args[0] === vsockServiceId(ports.StdIn!) && c.args[1] === 'stream').length;
    expect(stdinClosed()).toBe(0);
    // … and is closed with its VM, while the worker goes on serving the other one.
    await terminate(a, bootedA.peer);
    await vi.waitFor(() => expect(stdinClosed()).toBe(1));
    expect(liveHvsockWorkers()).toBe(1);
    stdin.destroy();
    await terminate(c, bootedC.peer);
    expect(liveHvsockWorkers()).toBe(0);
  });
});

/** terminate(): ShutdownForced reaches the guest, then HcsTerminateComputeSystem; afterwards the host has closed the bridge. */
async function terminate(vm: HcsVm, peer: ScriptedGcs): Promise<void> {
  const closed = readAll(peer.socket);
  const before = peer.received.length;
  await vm.terminate();
  await closed;
  expect(peer.received.slice(before).map((m) => m.type)).toEqual([T.ShutdownForced]);
  expect(peer.received.at(-1)!.body.ContainerId).toBe('00000000-0000-0000-0000-000000000000');
  const fns = stub.calls().map((c) => c.fn);
  expect(fns.lastIndexOf('HcsTerminateComputeSystem')).toBeGreaterThan(-1);
  expect(vm.state).toBe('stopped');
}
