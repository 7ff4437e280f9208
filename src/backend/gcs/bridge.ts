/**
 * One bridge connection to a GCS over any byte stream (a virtio-serial port
 * on QEMU, an hvsock on Windows): request ids, responses matched by id in
 * whatever order the guest sends them (it serves each request on its own
 * goroutine), a time limit per request, and what happens when the stream
 * misbehaves.
 *
 * Rules that differ from hcsshim's host on purpose:
 * - A request past its time limit rejects ETIMEOUT and its id is abandoned;
 *   the bridge keeps serving every other request (hcsshim's RPC kills the
 *   whole bridge on one timeout). A late answer to an abandoned id is
 *   dropped quietly.
 * - A notification is logged and ignored, whatever container it names
 *   (hcsshim kills the bridge on an unknown one).
 * - What cannot be matched to a request (an answer to an id never sent, a
 *   message a host never receives, a notification that is not JSON) is a
 *   typed EBRIDGE error handed to `onProtocolError`, and the bridge goes on:
 *   the framing is intact. A size that breaks the framing, or a peer that
 *   hangs up, fails every pending request with EBRIDGE and closes the bridge.
 *
 * Negotiation is not done here but by GcsClient.connect, which sends it
 * first and exactly once.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { LcowError, asError } from '../../errors.js';
import { componentLogger, type Logger } from '../../log.js';
import { hresultHex, hresultName } from '../hresult.js';
import { DEFAULT_MAX_MESSAGE_BYTES, FrameDecoder, encodeFrame, type Frame } from './framing.js';
import {
  CONTAINER_NOTIFICATION,
  MESSAGE_KIND,
  RPC,
  kindOf,
  responseTypeOf,
  rpcNameOf,
  type ContainerNotification,
  type ResponseBase,
  type RpcName,
} from './protocol.js';

export interface BridgeOptions {
  logger?: Logger;
  /** Largest message accepted from the guest (default 1 MiB). */
  maxMessageBytes?: number;
  /** Told about messages that break the protocol but not the framing (default: logged as a warning). */
  onProtocolError?: (err: LcowError) => void;
}

export interface RpcOptions {
  /** Abandon the response after this many ms (ETIMEOUT); absent: wait for ever (WaitForProcess). */
  timeoutMs?: number;
  /** Added to the error context of any failure of this request. */
  context?: Record<string, unknown>;
}

interface Pending {
  rpc: RpcName;
  type: number;
  context: Record<string, unknown>;
  resolve(response: ResponseBase): void;
  reject(err: LcowError): void;
  timer?: NodeJS.Timeout;
}

/** Abandoned ids remembered so that their late answers are not protocol errors; older ones are forgotten. */
const ABANDONED_REMEMBERED = 4096;

export class GcsBridge {
  private nextId = 1n;
  private readonly pending = new Map<bigint, Pending>();
  private readonly abandoned = new Set<bigint>();
  private readonly decoder: FrameDecoder;
  private readonly log: Logger;
  private failure: LcowError | undefined;
  private readonly closedPromise: Promise<LcowError>;
  private settleClosed!: (err: LcowError) => void;

  constructor(
    private readonly stream: Duplex,
    private readonly options: BridgeOptions = {},
  ) {
    this.log = componentLogger(options.logger, 'gcs-bridge');
    this.decoder = new FrameDecoder(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    this.closedPromise = new Promise((resolve) => (this.settleClosed = resolve));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.onEnd());
    stream.on('close', () => this.onEnd());
    stream.on('error', (err) => {
      this.log.debug({ err }, 'bridge stream error');
      this.fail(new LcowError('EBRIDGE', `GCS bridge stream failed: ${err.message}`, { reason: 'stream-error' }, { cause: err }));
    });
  }

  /** Resolves with the error that ended the bridge (EBRIDGE, or EVMSTOPPED after stop()). */
  get closed(): Promise<LcowError> {
    return this.closedPromise;
  }

  get isClosed(): boolean {
    return this.failure !== undefined;
  }

  /** Send one request; resolves with the guest's response when its Result is 0, else rejects EGCS. */
  rpc<R extends ResponseBase>(rpc: RpcName, body: Record<string, unknown>, options: RpcOptions = {}): Promise<R> {
    const context = { rpc, ...options.context };
    if (this.failure) return Promise.reject(this.relay(this.failure, context));
    const id = this.nextId++;
    const type = RPC[rpc];
    return new Promise<R>((resolve, reject) => {
      const p: Pending = { rpc, type, context, resolve: resolve as (r: ResponseBase) => void, reject };
      if (options.timeoutMs !== undefined) {
        p.timer = setTimeout(() => this.abandon(id, options.timeoutMs as number), options.timeoutMs);
      }
      this.pending.set(id, p);
      this.send(type, id, { ActivityId: randomUUID(), ...body });
    });
  }

  /** Send a request whose answer never comes (ShutdownForced: the VM powers off). Resolves once written. */
  post(rpc: RpcName, body: Record<string, unknown>): Promise<void> {
    if (this.failure) return Promise.reject(this.relay(this.failure, { rpc }));
    const id = this.nextId++;
    return new Promise((resolve) => this.send(RPC[rpc], id, { ActivityId: randomUUID(), ...body }, resolve));
  }

  /** The VM is gone: every pending request and every later one rejects EVMSTOPPED; the stream is destroyed. */
  stop(reason: string): void {
    this.fail(new LcowError('EVMSTOPPED', `VM stopped: ${reason}`, { reason }));
    this.stream.destroy();
  }

  /** End the connection from this side; pending requests reject EBRIDGE 'closed'. */
  close(): void {
    this.fail(new LcowError('EBRIDGE', 'GCS bridge closed by the host', { reason: 'closed' }));
    this.stream.end();
    this.stream.destroy();
  }

  private send(type: number, id: bigint, body: Record<string, unknown>, written?: () => void): void {
    const frame = encodeFrame(type, id, Buffer.from(JSON.stringify(body), 'utf8'));
    this.log.debug({ rpc: rpcNameOf(type), id: Number(id) }, 'bridge request');
    this.stream.write(frame, written && (() => written()));
  }

  private abandon(id: bigint, timeoutMs: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.abandoned.add(id);
    if (this.abandoned.size > ABANDONED_REMEMBERED) this.abandoned.delete(this.abandoned.values().next().value as bigint);
    p.reject(
      new LcowError('ETIMEOUT', `GCS ${p.rpc} got no answer within ${timeoutMs} ms; abandoned (the bridge goes on)`, {
        ...p.context,
        id: Number(id),
        timeoutMs,
      }),
    );
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fail(err instanceof LcowError ? err : new LcowError('EBRIDGE', asError(err).message, { reason: 'bad-frame' }, { cause: err }));
      this.stream.destroy();
      return;
    }
    for (const f of frames) this.onFrame(f);
  }

  private onFrame(frame: Frame): void {
    const kind = kindOf(frame.type);
    if (kind === MESSAGE_KIND.response) return this.onResponse(frame);
    if (frame.type === CONTAINER_NOTIFICATION) return this.onNotification(frame);
    this.protocolError(
      new LcowError('EBRIDGE', `unexpected GCS message type ${hex(frame.type)} (a host receives only responses and notifications)`, {
        reason: 'unexpected-type',
        type: frame.type,
        id: Number(frame.id),
      }),
    );
  }

  private onResponse(frame: Frame): void {
    const p = this.pending.get(frame.id);
    if (!p) {
      if (this.abandoned.delete(frame.id)) {
        this.log.debug({ id: Number(frame.id), type: hex(frame.type) }, 'late answer to an abandoned request dropped');
        return;
      }
      this.protocolError(
        new LcowError('EBRIDGE', `GCS answered request id ${frame.id}, which is not pending`, { reason: 'unknown-id', id: Number(frame.id), type: frame.type }),
      );
      return;
    }
    this.pending.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.type !== responseTypeOf(p.type)) {
      p.reject(
        new LcowError('EBRIDGE', `GCS answered ${p.rpc} with message type ${hex(frame.type)}`, { ...p.context, reason: 'type-mismatch', type: frame.type }),
      );
      return;
    }
    let response: ResponseBase;
    try {
      response = parseObject(frame.body) as unknown as ResponseBase;
    } catch (err) {
      p.reject(
        new LcowError(
          'EBRIDGE',
          `GCS answered ${p.rpc} with a body that is not a JSON object`,
          { ...p.context, reason: 'bad-json', body: preview(frame.body) },
          { cause: err },
        ),
      );
      return;
    }
    const result = typeof response.Result === 'number' ? response.Result : 0;
    if (result !== 0) p.reject(guestError(p.rpc, result, response, p.context));
    else p.resolve(response);
  }

  private onNotification(frame: Frame): void {
    try {
      const n = parseObject(frame.body) as ContainerNotification;
      this.log.info({ containerId: n.ContainerId, type: n.Type, result: n.Result, resultInfo: n.ResultInfo }, 'GCS container notification (ignored)');
    } catch (err) {
      this.protocolError(
        new LcowError('EBRIDGE', 'GCS notification body is not a JSON object', { reason: 'bad-json', body: preview(frame.body) }, { cause: err }),
      );
    }
  }

  private onEnd(): void {
    if (this.failure) return;
    const midMessage = this.decoder.pending;
    this.fail(
      midMessage > 0
        ? new LcowError('EBRIDGE', `GCS bridge peer hung up in the middle of a message (${midMessage} bytes of it received)`, {
            reason: 'truncated',
            bytes: midMessage,
          })
        : new LcowError('EBRIDGE', 'GCS bridge peer hung up', { reason: 'closed' }),
    );
  }

  private fail(err: LcowError): void {
    if (this.failure) return;
    this.failure = err;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(this.relay(err, p.context));
    }
    this.pending.clear();
    this.settleClosed(err);
  }

  /** The bridge's failure as seen by one request: same code and reason, with the request's context. */
  private relay(err: LcowError, context: Record<string, unknown>): LcowError {
    return new LcowError(err.code, err.message, { ...err.context, ...context }, { cause: err });
  }

  private protocolError(err: LcowError): void {
    if (this.options.onProtocolError) this.options.onProtocolError(err);
    else this.log.warn({ err }, 'GCS bridge protocol error (ignored)');
  }
}

function parseObject(body: Buffer): Record<string, unknown> {
  const value: unknown = JSON.parse(body.toString('utf8'));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SyntaxError('not a JSON object');
  return value as Record<string, unknown>;
}

function guestError(rpc: RpcName, result: number, response: ResponseBase, context: Record<string, unknown>): LcowError {
  const hresult = hresultHex(result);
  const name = hresultName(result);
  const detail = response.ErrorMessage ?? response.ErrorRecords?.[0]?.Message ?? '';
  return new LcowError('EGCS', `GCS ${rpc} failed: ${name ?? 'HRESULT'} (${hresult})${detail ? `: ${detail}` : ''}`, {
    ...context,
    hresult,
    ...(name ? { name } : {}),
    ...(response.ErrorMessage !== undefined ? { errorMessage: response.ErrorMessage } : {}),
    errorRecords: response.ErrorRecords ?? [],
  });
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function preview(body: Buffer): string {
  return body.subarray(0, 200).toString('utf8');
}
