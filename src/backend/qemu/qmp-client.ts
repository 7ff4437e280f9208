/**
 * A QEMU Machine Protocol client over a unix socket.
 *
 * After the greeting and `qmp_capabilities`, commands carry an `id` that the
 * answer echoes, so several may be in flight; asynchronous events (SHUTDOWN,
 * DEVICE_DELETED, …) are emitted as they come. When the connection ends —
 * the usual sign that QEMU exited — every pending command and event wait
 * rejects with EVMSTOPPED, and later calls reject the same way at once.
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { LcowError } from '../../errors.js';
import { componentLogger, type Logger } from '../../log.js';
import { encodeJsonLine, JsonLineSplitter, type JsonObject } from './json-lines.js';

export interface QmpEvent {
  event: string;
  data: JsonObject;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface EventWaiter {
  match(ev: QmpEvent): boolean;
  resolve(ev: QmpEvent): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

export interface QmpClientEvents {
  event: [QmpEvent];
  close: [];
}

export class QmpClient extends EventEmitter<QmpClientEvents> {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly waiters = new Set<EventWaiter>();
  private stoppedReason: string | undefined;
  private greeting: ((msg: JsonObject) => void) | undefined;
  private readonly log: Logger;

  private constructor(
    private readonly socket: net.Socket,
    logger?: Logger,
  ) {
    super();
    this.log = componentLogger(logger, 'qmp');
    const splitter = new JsonLineSplitter(
      (msg) => this.onMessage(msg),
      (line) => this.log.warn({ line }, 'unparsable QMP line'),
    );
    socket.on('data', (b: Buffer) => splitter.push(b));
    socket.on('error', (err) => this.log.debug({ err }, 'QMP socket error'));
    socket.on('close', () => this.stop('QMP connection closed'));
  }

  /** Take over a connected socket: read the greeting, negotiate capabilities. */
  static async handshake(socket: net.Socket, timeoutMs: number, logger?: Logger): Promise<QmpClient> {
    const client = new QmpClient(socket, logger);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LcowError('ETIMEOUT', 'no QMP greeting', { timeoutMs })), timeoutMs);
      client.greeting = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('close', () => {
        clearTimeout(timer);
        reject(new LcowError('EVMSTOPPED', 'QMP closed before its greeting', {}));
      });
    });
    await client.execute('qmp_capabilities');
    return client;
  }

  get stopped(): boolean {
    return this.stoppedReason !== undefined;
  }

  /** Run a command; resolves with its `return` value, rejects EQMP with the error class/desc. */
  execute<T = unknown>(command: string, args?: JsonObject): Promise<T> {
    if (this.stoppedReason) return Promise.reject(this.stoppedError(command));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve, reject });
      const msg: JsonObject = { execute: command, id };
      if (args) msg.arguments = args;
      this.log.debug({ command, id }, 'QMP execute');
      this.socket.write(encodeJsonLine(msg));
    });
  }

  /**
   * Wait for an event matching `match`. Register before issuing the command
   * that causes it (DEVICE_DELETED may arrive before device_del's answer).
   */
  waitForEvent(name: string, match: (data: JsonObject) => boolean, timeoutMs: number): Promise<QmpEvent> {
    if (this.stoppedReason) return Promise.reject(this.stoppedError(`event ${name}`));
    return new Promise<QmpEvent>((resolve, reject) => {
      const waiter: EventWaiter = {
        match: (ev) => ev.event === name && match(ev.data),
        resolve: (ev) => {
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          resolve(ev);
        },
        reject: (err) => {
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          reject(err);
        },
      };
      waiter.timer = setTimeout(
        () => waiter.reject(new LcowError('ETIMEOUT', `no ${name} event within ${timeoutMs} ms`, { event: name, timeoutMs })),
        timeoutMs,
      );
      this.waiters.add(waiter);
    });
  }

  /** Reject everything pending with EVMSTOPPED and close the socket. Idempotent. */
  stop(reason: string): void {
    if (this.stoppedReason) return;
    this.stoppedReason = reason;
    for (const [, p] of this.pending) p.reject(this.stoppedError(p.command));
    this.pending.clear();
    for (const w of [...this.waiters]) w.reject(this.stoppedError('event wait'));
    this.socket.destroy();
    this.emit('close');
  }

  private stoppedError(what: string): LcowError {
    return new LcowError('EVMSTOPPED', `VM stopped while waiting for ${what}: ${this.stoppedReason}`, { command: what });
  }

  private onMessage(msg: JsonObject): void {
    if ('QMP' in msg) {
      this.greeting?.(msg);
      this.greeting = undefined;
      return;
    }
    if (typeof msg.event === 'string') {
      const ev: QmpEvent = { event: msg.event, data: (msg.data as JsonObject) ?? {}, timestamp: msg.timestamp as QmpEvent['timestamp'] };
      this.log.debug({ event: ev.event, data: ev.data }, 'QMP event');
      for (const w of [...this.waiters]) if (w.match(ev)) w.resolve(ev);
      this.emit('event', ev);
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) {
      this.log.warn({ msg }, 'QMP answer without a matching request');
      return;
    }
    this.pending.delete(id);
    if ('error' in msg) {
      const e = (msg.error ?? {}) as { class?: string; desc?: string };
      p.reject(new LcowError('EQMP', `QMP ${p.command} failed: ${e.desc ?? 'unknown error'}`, { command: p.command, errorClass: e.class, desc: e.desc }));
    } else p.resolve(msg.return);
  }
}
