/**
 * Where a process's stdio travels. The GCS dials the host once per stream
 * (stdin, stdout, stderr, in that order) while it handles ExecuteProcess,
 * before it starts the process, on the ports the request names: so the host
 * listens first, then sends. The transport is injected (hcsshim's
 * IoListenFunc): vsock on Linux, hvsock on Windows, local sockets in tests.
 */
import type { Duplex } from 'node:stream';

export interface StdioListener {
  /** The one connection the guest makes to this port. */
  accept(): Promise<Duplex>;
  /** Stop listening; an accept still waiting rejects. */
  close(): void;
}

export interface StdioTransport {
  /** Listen on `port` of this VM; resolves once a dial from the guest would be accepted. */
  listen(port: number): Promise<StdioListener>;
}
