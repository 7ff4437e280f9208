/**
 * The main thread's side of the hvsock worker: it starts the worker, sends
 * it commands, and routes its events to the listener or stream each is for.
 *
 * One worker serves the whole process (per ws2_32 library): `acquireHvsock`
 * hands out leases, the first starts the worker and the last release stops
 * it (every socket closed, WSACleanup, the thread gone), so a process with
 * no VM left has no hvsock thread either.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { LcowError, asError } from '../../../errors.js';
import { componentLogger, type Logger } from '../../../log.js';
import { WSA_ERRORS } from '../../../../native-defs/ws2_32.js';
import { normalizeGuid, sockaddrHv } from './address.js';
import type { Command, WinsockFailure, WorkerEvent, WorkerSetup } from './messages.js';
import { HvsockStream, READ_WINDOW, type CommandSink } from './stream.js';

export interface HvsockOptions {
  /** ws2_32.dll (System32's), or a library exporting the same functions (tests). */
  library: string;
  /** WSAPoll's timeout, ms (default 5): the longest a command waits while sockets are open. */
  pollIntervalMs?: number;
  logger?: Logger;
}

export const DEFAULT_POLL_INTERVAL_MS = 5;
/** The worker sleeps on its bell this long with nothing to poll; a command wakes it at once, so this only bounds a missed wake-up. */
const IDLE_WAIT_MS = 1_000;

/** A Winsock failure from the worker as a typed error. */
export function winsockError(f: WinsockFailure, context: Record<string, unknown> = {}): LcowError {
  if (f.closed) return new LcowError('EHVSOCK', `hvsock ${f.call}: the listener was closed`, { call: f.call, reason: 'closed', ...context });
  if (f.wsa === undefined) {
    const revents = `0x${(f.revents ?? 0).toString(16)}`;
    return new LcowError('EHVSOCK', `hvsocket in error (WSAPoll revents ${revents})`, { call: f.call, revents, ...context });
  }
  const name = WSA_ERRORS[f.wsa] ?? 'unknown Winsock error';
  return new LcowError('EHVSOCK', `hvsock ${f.call} failed: ${name} (${f.wsa})`, { call: f.call, wsaError: f.wsa, name, ...context });
}

interface Request<T> {
  resolve(value: T): void;
  reject(err: LcowError): void;
  context: Record<string, unknown>;
}

let liveWorkers = 0;

/** hvsock worker threads alive in this process (tests check none is left behind). */
export function liveHvsockWorkers(): number {
  return liveWorkers;
}

export class HvsockTransport implements CommandSink {
  private nextReq = 1;
  private readonly requests = new Map<number, Request<number>>();
  private readonly streams = new Map<number, HvsockStream>();
  private failure: LcowError | undefined;
  private stopping: Promise<void> | undefined;
  private readonly exited: Promise<void>;
  private readonly log: Logger;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly bell: Int32Array,
    logger: Logger | undefined,
    ready: { resolve(): void; reject(err: LcowError): void },
  ) {
    this.log = componentLogger(logger, 'hvsock');
    liveWorkers += 1;
    this.exited = new Promise((resolve) =>
      worker.once('exit', (code) => {
        liveWorkers -= 1;
        // What the worker said last (closed sockets, failed accepts) may still wait in the port: take it in order first.
        for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) this.onEvent(m.message as WorkerEvent, ready);
        const err = new LcowError('EHVSOCK', `the hvsock worker ended (exit ${code})`, { call: 'worker', exitCode: code });
        this.fail(err, this.stopping !== undefined);
        ready.reject(err);
        port.close();
        resolve();
      }),
    );
    worker.on('error', (err) => {
      // koffi.load's own message when the file cannot be opened (as native/bind.ts reads it).
      const missing = /^Failed to load shared library/.test(err.message);
      const e = missing
        ? new LcowError('EPLATFORM', `cannot load the Winsock library for hvsockets: ${err.message}`, { call: 'worker' }, { cause: err })
        : new LcowError('EHVSOCK', `the hvsock worker failed: ${err.message}`, { call: 'worker' }, { cause: err });
      this.log.error({ err }, 'hvsock worker failed');
      this.fail(e);
      ready.reject(e);
    });
    port.on('message', (m: WorkerEvent) => this.onEvent(m, ready));
  }

  /** Start a worker; resolves once it has loaded the library and WSAStartup succeeded. */
  static async start(options: HvsockOptions): Promise<HvsockTransport> {
    const { port1, port2 } = new MessageChannel();
    const bell = new SharedArrayBuffer(4);
    const setup: WorkerSetup = {
      library: options.library,
      port: port2,
      bell,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      idleWaitMs: IDLE_WAIT_MS,
      readWindow: READ_WINDOW,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup, transferList: [port2] });
    let ready!: { resolve(): void; reject(err: LcowError): void };
    const started = new Promise<void>((resolve, reject) => (ready = { resolve, reject }));
    const transport = new HvsockTransport(worker, port1, new Int32Array(bell), options.logger, ready);
    try {
      await started;
    } catch (err) {
      await transport.stop();
      throw err;
    }
    return transport;
  }

  /** Listen on (vmId, serviceId); resolves once a connection from the guest would be accepted. */
  async listen(vmId: string, serviceId: string): Promise<HvsockListener> {
    const context = { vmId: normalizeGuid(vmId), serviceId: normalizeGuid(serviceId) };
    const data = new Uint8Array(sockaddrHv(context.vmId, context.serviceId)).buffer;
    const lid = await this.request((req) => ({ op: 'listen', req, address: data }), context, [data]);
    return new HvsockListener(this, lid, context.serviceId, context);
  }

  /** @internal One answer to a command (listen, accept). */
  request(command: (req: number) => Command, context: Record<string, unknown>, transfer?: ArrayBuffer[]): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.requests.set(req, { resolve, reject, context });
      this.send(command(req), transfer);
    });
  }

  /** @internal The stream of an accepted socket. */
  adopt(sid: number, serviceId: string): HvsockStream {
    const stream = new HvsockStream(this, sid, serviceId);
    this.streams.set(sid, stream);
    return stream;
  }

  send(command: Command, transfer?: ArrayBuffer[]): void {
    if (this.failure) return;
    this.port.postMessage(command, transfer ?? []);
    // The bell wakes a worker that sleeps with nothing to poll; a polling one picks the command up within pollIntervalMs.
    Atomics.add(this.bell, 0, 1);
    Atomics.notify(this.bell, 0);
  }

  /** Streams whose socket is still open in the worker. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Close every socket, WSACleanup, and end the thread; resolves once it has exited. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.send({ op: 'stop' });
      const gone = await Promise.race([this.exited.then(() => true), delay(5_000).then(() => false)]);
      if (!gone) {
        this.log.warn('the hvsock worker did not stop within 5 s; terminating it');
        await this.worker.terminate();
        await this.exited;
      }
    })();
    return this.stopping;
  }

  private onEvent(m: WorkerEvent, ready: { resolve(): void; reject(err: LcowError): void }): void {
    switch (m.ev) {
      case 'ready':
        return ready.resolve();
      case 'fatal':
        return ready.reject(winsockError(m.error, { library: 'ws2_32' }));
      case 'listening':
        return this.answer(m.req, (r) => r.resolve(m.lid));
      case 'accepted':
        return this.answer(m.req, (r) => r.resolve(m.sid));
      case 'failed':
        return this.answer(m.req, (r) => r.reject(winsockError(m.error, r.context)));
      case 'data':
        return this.streams.get(m.sid)?.onData(m.data);
      case 'end':
        return this.streams.get(m.sid)?.onEnd();
      case 'sent':
        return this.streams.get(m.sid)?.onSent(m.bytes);
      case 'shut':
        return this.streams.get(m.sid)?.onShut();
      case 'error': {
        const stream = this.streams.get(m.sid);
        return stream?.onError(winsockError(m.error, { serviceId: stream.serviceId }));
      }
      case 'closed': {
        // Closed by the worker itself (it is stopping): the stream ends as a destroyed socket does, without an error.
        const stream = this.streams.get(m.sid);
        this.streams.delete(m.sid);
        if (stream && !stream.destroyed) stream.destroy();
        return;
      }
      case 'warning':
        this.log.warn({ err: winsockError(m.error) }, 'hvsock worker');
        return;
      case 'stopped':
        return;
    }
  }

  private answer(req: number, settle: (r: Request<number>) => void): void {
    const r = this.requests.get(req);
    if (!r) return;
    this.requests.delete(req);
    settle(r);
  }

  /**
   * The worker is gone: every waiting request rejects, every stream still open is destroyed — with the
   * reason if the worker died, without an error if it was stopped (a socket closed on purpose).
   */
  private fail(err: LcowError, stopped = false): void {
    if (this.failure) return;
    this.failure = err;
    for (const r of this.requests.values()) r.reject(err);
    this.requests.clear();
    for (const s of this.streams.values()) if (!s.destroyed) s.destroy(stopped ? undefined : err);
    this.streams.clear();
  }
}

/** A listening hvsocket. Each accept() takes the next connection the guest makes. */
export class HvsockListener {
  private closed = false;

  constructor(
    private readonly transport: HvsockTransport,
    private readonly lid: number,
    /** The service GUID it listens on. */
    readonly serviceId: string,
    private readonly context: Record<string, unknown>,
  ) {}

  async accept(): Promise<HvsockStream> {
    if (this.closed) throw new LcowError('EHVSOCK', 'hvsock accept: the listener was closed', { call: 'accept', reason: 'closed', ...this.context });
    const sid = await this.transport.request((req) => ({ op: 'accept', req, lid: this.lid }), this.context);
    return this.transport.adopt(sid, this.serviceId);
  }

  /** closesocket; an accept still waiting rejects EHVSOCK (reason 'closed'). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.transport.send({ op: 'unlisten', lid: this.lid });
  }
}

// ---- one worker per process ----

export interface HvsockLease {
  readonly transport: HvsockTransport;
  /** Give the lease back; the last one stops the worker (resolves once it has). */
  release(): Promise<void>;
}

const shared = new Map<string, { transport: Promise<HvsockTransport>; users: number }>();

/** The process's hvsock worker for this library, started on first use. */
export async function acquireHvsock(options: HvsockOptions): Promise<HvsockLease> {
  let entry = shared.get(options.library);
  if (!entry) {
    entry = { transport: HvsockTransport.start(options), users: 0 };
    shared.set(options.library, entry);
    const started = entry;
    started.transport.catch(() => {
      if (shared.get(options.library) === started) shared.delete(options.library);
    });
  }
  entry.users += 1;
  let transport: HvsockTransport;
  try {
    transport = await entry.transport;
  } catch (err) {
    entry.users -= 1;
    throw err instanceof LcowError ? err : new LcowError('EHVSOCK', asError(err).message, { call: 'worker' }, { cause: err });
  }
  const held = entry;
  let released = false;
  return {
    transport,
    release: async () => {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users > 0) return;
      if (shared.get(options.library) === held) shared.delete(options.library);
      await transport.stop();
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
