/**
 * A scripted GCS for bridge-client tests: the far end of a real unix-socket
 * connection, driven step by step by the test (read the next request,
 * answer it — or not, or out of order, or with garbage — and hang up).
 * Its framing code is its own, written from the protocol facts, so that a
 * shared misreading with the client's decoder cannot pass unnoticed.
 *
 * LocalStdio is a StdioTransport over unix sockets in a temporary folder:
 * the scripted guest "dials" a port by connecting to `<dir>/<port>`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { StdioListener, StdioTransport } from '../../../src/backend/gcs/index.js';

export interface PeerMessage {
  type: number;
  size: number;
  id: bigint;
  body: Record<string, unknown>;
}

export const T = {
  Negotiate: 0x10100b01,
  Modify: 0x10100a01,
  Execute: 0x10100501,
  Wait: 0x10100601,
  DumpStacks: 0x10100c01,
  ShutdownForced: 0x10100401,
  Notification: 0x30100101,
} as const;

export function frame(type: number, id: bigint, body: Buffer | string | object, sizeOverride?: number): Buffer {
  const json = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const h = Buffer.alloc(16);
  h.writeUInt32LE(type >>> 0, 0);
  h.writeUInt32LE(sizeOverride ?? 16 + json.length, 4);
  h.writeBigUInt64LE(id, 8);
  return Buffer.concat([h, json]);
}

export class ScriptedGcs {
  private buf = Buffer.alloc(0);
  private readonly queue: PeerMessage[] = [];
  private waiters: ((m: PeerMessage) => void)[] = [];
  /** Every request received, in order. */
  readonly received: PeerMessage[] = [];

  constructor(readonly socket: net.Socket) {
    socket.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      while (this.buf.length >= 16) {
        const size = this.buf.readUInt32LE(4);
        if (this.buf.length < size) break;
        const m: PeerMessage = {
          type: this.buf.readUInt32LE(0),
          size,
          id: this.buf.readBigUInt64LE(8),
          body: JSON.parse(this.buf.subarray(16, size).toString('utf8')) as Record<string, unknown>,
        };
        this.buf = this.buf.subarray(size);
        this.received.push(m);
        const w = this.waiters.shift();
        if (w) w(m);
        else this.queue.push(m);
      }
    });
    socket.on('error', () => undefined);
  }

  /** The next request the host sends. */
  next(): Promise<PeerMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Answer a request (Result 0 unless the body says otherwise). */
  respond(req: PeerMessage, body: Record<string, unknown> = {}, typeOverride?: number): void {
    const type = typeOverride ?? ((req.type & 0x0fffffff) | 0x20000000) >>> 0;
    this.raw(frame(type, req.id, { Result: 0, ActivityId: req.body.ActivityId, ...body }));
  }

  raw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Answer the negotiation as the real rc.3 GCS does. */
  async negotiate(): Promise<PeerMessage> {
    const req = await this.next();
    this.respond(req, {
      Version: 4,
      Capabilities: {
        SupportedSchemaVersions: [{ Major: 2, Minor: 1 }],
        RuntimeOsType: 'Linux',
        GuestDefinedCapabilities: { SignalProcessSupported: true, DumpStacksSupported: true },
      },
    });
    return req;
  }

  hangUp(): void {
    this.socket.end();
  }
}

/** A connected pair: the host's stream and the scripted GCS on the other end. */
export async function connectedPair(): Promise<{ host: net.Socket; peer: ScriptedGcs; cleanup: () => void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gcs-peer-'));
  const sock = path.join(dir, 'bridge');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(sock, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const host = net.createConnection(sock);
  await new Promise<void>((r) => host.once('connect', () => r()));
  const peer = new ScriptedGcs(await accepted);
  server.close();
  return {
    host,
    peer,
    cleanup: () => {
      host.destroy();
      peer.socket.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Process stdio over unix sockets named by port. */
export class LocalStdio implements StdioTransport {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'gcs-stdio-'));
  /** Ports listened on, in order. */
  readonly ports: number[] = [];

  async listen(port: number): Promise<StdioListener> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path.join(this.dir, String(port)), resolve);
    });
    this.ports.push(port);
    const first = new Promise<Duplex>((resolve, reject) => {
      server.once('connection', (s) => {
        server.close();
        resolve(s);
      });
      server.once('close', () => reject(new Error(`listener ${port} closed`)));
    });
    first.catch(() => undefined);
    return { accept: () => first, close: () => server.close() };
  }

  /** The guest's side: connect to a port the host listens on (fails if it does not). */
  dial(port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(path.join(this.dir, String(port)));
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
