/**
 * A qemu-guest-agent client over the host end of the agent's virtio-serial
 * port (a unix-socket chardev).
 *
 * The channel is a serial line: answers carry no request id, so exactly one
 * request may be in flight (serialised with a mutex), and after anything
 * goes wrong — a timeout, a guest that was not listening yet — the stream is
 * re-synchronised with guest-sync-delimited: send 0xFF and a random id, drop
 * everything until the agent's 0xFF marker and the answer with that id.
 * When the VM stops, every pending and queued request rejects EVMSTOPPED.
 */
import { randomInt } from 'node:crypto';
import type net from 'node:net';
import { Mutex } from 'async-mutex';
import { LcowError } from '../../errors.js';
import { componentLogger, type Logger } from '../../log.js';
import { encodeJsonLine, JsonLineSplitter, type JsonObject } from './json-lines.js';

type Waiter = { resolve(msg: JsonObject): void; reject(err: Error): void };

const RESYNC = Buffer.from([0xff]);

export class GuestAgentClient {
  private readonly mutex = new Mutex();
  private waiter: Waiter | undefined;
  /** Messages that arrived with nobody waiting (several can come in one chunk). */
  private inbox: JsonObject[] = [];
  private inSync = false;
  private stoppedReason: string | undefined;
  private readonly log: Logger;

  constructor(
    private readonly socket: net.Socket,
    logger?: Logger,
  ) {
    this.log = componentLogger(logger, 'guest-agent');
    const splitter = new JsonLineSplitter(
      (msg) => this.onMessage(msg),
      (line) => this.log.debug({ line }, 'unparsable agent line'),
      // the agent's 0xFF: whatever it said before is stale
      () => (this.inbox = []),
    );
    socket.on('data', (b: Buffer) => splitter.push(b));
    socket.on('error', (err) => this.log.debug({ err }, 'agent socket error'));
    socket.on('close', () => this.stop('agent connection closed'));
  }

  get stopped(): boolean {
    return this.stoppedReason !== undefined;
  }

  /**
   * Wait until the guest's agent answers a sync: the VM's "ready" signal.
   * Each attempt waits `attemptMs`; attempts repeat until `deadline`.
   */
  async waitReady(deadline: number, attemptMs = 1000): Promise<void> {
    await this.exclusive('guest-sync-delimited', async () => {
      for (;;) {
        this.throwIfStopped('guest-sync-delimited');
        try {
          await this.syncLocked(Math.min(attemptMs, Math.max(1, deadline - Date.now())));
          return;
        } catch (err) {
          if (err instanceof LcowError && err.code === 'ETIMEOUT' && Date.now() < deadline) continue;
          throw err;
        }
      }
    });
  }

  /** One command, answered or rejected (EGUEST for an agent error, ETIMEOUT, EVMSTOPPED). */
  request<T = unknown>(command: string, args: JsonObject | undefined, timeoutMs: number): Promise<T> {
    return this.exclusive(command, async () => {
      this.throwIfStopped(command);
      if (!this.inSync) await this.syncLocked(timeoutMs);
      const msg: JsonObject = { execute: command };
      if (args) msg.arguments = args;
      const answer = await this.roundTrip(msg, timeoutMs, command);
      if ('error' in answer) {
        const e = (answer.error ?? {}) as { class?: string; desc?: string };
        throw new LcowError('EGUEST', `guest agent ${command} failed: ${e.desc ?? 'unknown error'}`, { command, errorClass: e.class, desc: e.desc });
      }
      return answer.return as T;
    });
  }

  /** Run under the channel lock; a queued call cancelled by stop() rejects EVMSTOPPED. */
  private async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.mutex.runExclusive(fn);
    } catch (err) {
      if (this.stoppedReason && !(err instanceof LcowError)) throw this.stoppedError(what);
      throw err;
    }
  }

  /** Reject what is pending and everything queued. Idempotent. */
  stop(reason: string): void {
    if (this.stoppedReason) return;
    this.stoppedReason = reason;
    this.waiter?.reject(this.stoppedError('agent request'));
    this.waiter = undefined;
    this.mutex.cancel();
    this.socket.destroy();
  }

  private async syncLocked(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    const deadline = Date.now() + timeoutMs;
    this.inSync = false;
    this.inbox = [];
    this.socket.write(Buffer.concat([RESYNC, encodeJsonLine({ execute: 'guest-sync-delimited', arguments: { id } })]));
    // Stale answers (from requests that timed out, or a complaint about the
    // 0xFF byte itself) may come first: skip everything but our id.
    for (;;) {
      const answer = await this.nextMessage(Math.max(1, deadline - Date.now()), 'guest-sync-delimited');
      if (answer.return === id) {
        this.inSync = true;
        return;
      }
    }
  }

  private async roundTrip(msg: JsonObject, timeoutMs: number, command: string): Promise<JsonObject> {
    // In sync with one request at a time, anything unread now answers nothing of ours.
    this.inbox = [];
    const wait = this.nextMessage(timeoutMs, command);
    this.socket.write(encodeJsonLine(msg));
    try {
      return await wait;
    } catch (err) {
      // A late answer would be taken for the next request's: resync first.
      this.inSync = false;
      throw err;
    }
  }

  private nextMessage(timeoutMs: number, command: string): Promise<JsonObject> {
    this.throwIfStopped(command);
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise<JsonObject>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.inSync = false;
        reject(new LcowError('ETIMEOUT', `guest agent did not answer ${command} within ${timeoutMs} ms`, { command, timeoutMs }));
      }, timeoutMs);
      this.waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private onMessage(msg: JsonObject): void {
    const w = this.waiter;
    if (!w) {
      this.inbox.push(msg);
      return;
    }
    this.waiter = undefined;
    w.resolve(msg);
  }

  private throwIfStopped(what: string): void {
    if (this.stoppedReason) throw this.stoppedError(what);
  }

  private stoppedError(what: string): LcowError {
    return new LcowError('EVMSTOPPED', `VM stopped while waiting for ${what}: ${this.stoppedReason}`, { command: what });
  }
}
