/**
 * One accepted hvsocket as a Node Duplex. The socket itself lives in the
 * worker; this side turns stream calls into commands and worker events into
 * stream events:
 *
 * - read: a credit window. The worker delivers at most READ_WINDOW bytes
 *   ahead of what this side has consumed; each `_read` (Node asks for more
 *   once the readable buffer has room) grants back what was delivered since
 *   the last grant. A consumer that stops reading stops the grants, the
 *   worker stops calling recv, and the guest's sends back up — however long
 *   the main thread is busy, nothing piles up in between.
 * - write: each chunk is handed to the worker at once; the callback waits
 *   only when more than WRITE_WINDOW bytes are queued there and not yet
 *   taken by send, so writes pipeline without growing without bound.
 * - end(): shutdown(SD_SEND) after everything queued has left (the guest reads EOF).
 * - destroy(): closesocket, dropping whatever is still queued.
 * - `allowHalfOpen: false`, as net.Socket: once the guest's side has ended
 *   and the host's has been ended too, the socket closes by itself.
 */
import { Duplex } from 'node:stream';
import type { LcowError } from '../../../errors.js';
import type { Command } from './messages.js';

/** Bytes one stream may have queued in the worker, unsent, before its write callbacks wait. */
export const WRITE_WINDOW = 256 * 1024;
/** Bytes the worker may deliver to one stream beyond what it has consumed. */
export const READ_WINDOW = 256 * 1024;

/** Where a stream's commands go (the transport's port to the worker). */
export interface CommandSink {
  send(command: Command, transfer?: ArrayBuffer[]): void;
}

type Callback = (err?: Error | null) => void;

export class HvsockStream extends Duplex {
  /** Bytes delivered since the last grant. */
  private ungranted = 0;
  /** Bytes handed to the worker that send has not taken yet. */
  private unsent = 0;
  private waitingWrite: Callback | undefined;
  private waitingFinal: Callback | undefined;

  constructor(
    private readonly sink: CommandSink,
    /** The worker's id of this socket. */
    readonly sid: number,
    /** The service GUID the connection came in on. */
    readonly serviceId: string,
  ) {
    super({ allowHalfOpen: false });
  }

  override _read(): void {
    if (this.ungranted === 0) return;
    this.sink.send({ op: 'grant', sid: this.sid, bytes: this.ungranted });
    this.ungranted = 0;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.queue([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: Callback): void {
    this.queue(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: Callback): void {
    this.waitingFinal = callback;
    this.sink.send({ op: 'shutdown', sid: this.sid });
  }

  override _destroy(err: Error | null, callback: Callback): void {
    this.waitingWrite = undefined;
    this.waitingFinal = undefined;
    this.sink.send({ op: 'close', sid: this.sid });
    callback(err);
  }

  /** A copy into a fresh ArrayBuffer, transferred: a chunk may be a view into Buffer's shared pool, which must not be detached. */
  private queue(chunks: Buffer[], callback: Callback): void {
    const length = chunks.reduce((n, c) => n + c.length, 0);
    const data = new ArrayBuffer(length);
    const view = new Uint8Array(data);
    let at = 0;
    for (const c of chunks) {
      view.set(c, at);
      at += c.length;
    }
    this.sink.send({ op: 'write', sid: this.sid, data }, [data]);
    this.unsent += length;
    if (this.unsent <= WRITE_WINDOW) callback();
    else this.waitingWrite = callback;
  }

  // ---- events from the worker (the transport routes them by sid) ----

  onData(data: ArrayBuffer): void {
    if (this.destroyed) return;
    this.ungranted += data.byteLength;
    this.push(Buffer.from(data));
  }

  onEnd(): void {
    if (!this.destroyed) this.push(null);
  }

  onSent(bytes: number): void {
    this.unsent -= bytes;
    if (this.waitingWrite && this.unsent <= WRITE_WINDOW) {
      const callback = this.waitingWrite;
      this.waitingWrite = undefined;
      callback();
    }
  }

  onShut(): void {
    const callback = this.waitingFinal;
    this.waitingFinal = undefined;
    callback?.();
  }

  onError(err: LcowError): void {
    this.destroy(err);
  }
}
