/**
 * The default guest side: hcsshim's GCS over hvsockets, set up as hcsshim's
 * CreateLCOW and Start do (internal/uvm/create_lcow.go, start.go):
 *
 * 1. Before HcsStartComputeSystem, listen on the VM's RuntimeId for the
 *    entropy port (1), the log port (109) and the bridge (0x40000000): the
 *    VM's init dials the first two at boot (with `-e 1`, an init older than
 *    May 2026 dies if port 1 is not listening; `vsockexec -e 109` exits if 109
 *    is not), and the GCS dials the bridge.
 * 2. After start: take the entropy connection, write 512 random bytes, close
 *    it; take the log connection (each line goes to the logger); then take the
 *    bridge and negotiate on it (GcsClient). All within one time limit,
 *    hcsshim's GCS connection timeout (2 min).
 * 3. Process stdio: one listener per stream, on the port's service GUID
 *    (HvsockStdio), for the life of each exec.
 */
import { randomBytes } from 'node:crypto';
import { LcowError, asError } from '../../errors.js';
import { componentLogger, type Logger } from '../../log.js';
import { GCS_BRIDGE_PORT, GcsClient } from '../gcs/index.js';
import type { GuestConnectionTarget, GuestLink, GuestLinkFactory } from './guest-connection.js';
import { HvsockStdio, acquireHvsock, vsockServiceId, type HvsockLease, type HvsockListener, type HvsockStream } from './hvsock/index.js';

/** The init's entropy port (hcsshim vmutils.LinuxEntropyVsockPort) and what the host writes there. */
export const ENTROPY_PORT = 1;
export const ENTROPY_BYTES = 512;
/** Where `vsockexec -e 109` sends the GCS's stderr (hcsshim vmutils.LinuxLogVsockPort). */
export const LOG_PORT = 109;
/** hcsshim's timeout.GCSConnectionTimeout: entropy, logs and the bridge, from start to negotiated. */
export const DEFAULT_GCS_CONNECT_TIMEOUT_MS = 120_000;
/** A guest log line longer than this is logged in pieces. */
const MAX_LOG_LINE = 64 * 1024;

export interface HvsockGuestOptions {
  /** ws2_32.dll (System32's) or a stand-in; without one the VM cannot start (EPLATFORM). */
  library: string | undefined;
  /** The hvsock worker's WSAPoll timeout, ms. */
  pollIntervalMs?: number;
  /** From HcsStartComputeSystem to a negotiated bridge (default 2 min). */
  connectTimeoutMs?: number;
  /** Time limit of each GCS request (GcsClient's default when unset). */
  requestTimeoutMs?: number;
}

export function hvsockGuestLink(options: HvsockGuestOptions): GuestLinkFactory {
  return async (target) => {
    const { library } = options;
    if (!library) {
      throw new LcowError('EPLATFORM', 'no ws2_32 library to reach the guest over hvsock (give HcsBackendOptions.libraries.ws2_32, or a guestConnection)', {
        vmId: target.vmId,
      });
    }
    const lease = await acquireHvsock({ library, pollIntervalMs: options.pollIntervalMs, logger: target.logger });
    const made: HvsockListener[] = [];
    try {
      for (const port of [ENTROPY_PORT, LOG_PORT, GCS_BRIDGE_PORT]) made.push(await lease.transport.listen(target.runtimeId, vsockServiceId(port)));
    } catch (err) {
      for (const l of made) l.close();
      await lease.release();
      throw err;
    }
    const [entropy, logs, bridge] = made as [HvsockListener, HvsockListener, HvsockListener];
    return new HvsockGuestLink(lease, target, { entropy, logs, bridge }, options);
  };
}

class HvsockGuestLink implements GuestLink {
  private client: GcsClient | undefined;
  private readonly stdio: HvsockStdio;
  private logStream: HvsockStream | undefined;
  private closing: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly lease: HvsockLease,
    private readonly target: GuestConnectionTarget,
    private readonly listeners: { entropy: HvsockListener; logs: HvsockListener; bridge: HvsockListener },
    private readonly options: HvsockGuestOptions,
  ) {
    this.log = componentLogger(target.logger, 'hvsock-guest', { runtimeId: target.runtimeId });
    this.stdio = new HvsockStdio(lease.transport, target.runtimeId, this.log);
  }

  async connect(): Promise<GcsClient> {
    const limit = this.options.connectTimeoutMs ?? DEFAULT_GCS_CONNECT_TIMEOUT_MS;
    const deadline = Date.now() + limit;
    // hcsshim's order: entropy written and the log connection taken (both at once), then the bridge.
    // Awaited in that order, so a guest that dials nothing is reported on port 1, every time.
    const entropy = this.within(deadline, limit, ENTROPY_PORT, this.serveEntropy());
    const logs = this.within(deadline, limit, LOG_PORT, this.takeLogs());
    logs.catch(() => undefined);
    await entropy;
    await logs;
    const stream = await this.within(deadline, limit, GCS_BRIDGE_PORT, this.listeners.bridge.accept());
    this.listeners.bridge.close();
    this.client = await GcsClient.connect(stream, {
      logger: this.target.logger,
      vmId: this.target.vmId,
      negotiateTimeoutMs: Math.max(1, deadline - Date.now()),
      stdio: this.stdio,
      ...(this.options.requestTimeoutMs !== undefined ? { requestTimeoutMs: this.options.requestTimeoutMs } : {}),
    });
    this.log.info({ protocolVersion: this.client.protocolVersion }, 'GCS bridge negotiated over hvsock');
    return this.client;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const l of Object.values(this.listeners)) l.close();
      this.logStream?.destroy();
      this.stdio.closeAll();
      await this.client?.close();
      await this.lease.release();
    })();
    return this.closing;
  }

  /** Accept, write 512 random bytes, close: the init seeds the guest's entropy pool from them. */
  private async serveEntropy(): Promise<void> {
    const s = await this.listeners.entropy.accept();
    this.listeners.entropy.close();
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.end(randomBytes(ENTROPY_BYTES), resolve);
      });
    } finally {
      s.destroy();
    }
  }

  /** Accept the GCS's stderr; every line goes to the logger until the guest closes it. */
  private async takeLogs(): Promise<void> {
    const s = await this.listeners.logs.accept();
    this.listeners.logs.close();
    this.logStream = s;
    const guestLog = componentLogger(this.target.logger, 'guest-log', { vmId: this.target.vmId });
    let partial = '';
    s.setEncoding('utf8');
    s.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > MAX_LOG_LINE) {
        lines.push(partial);
        partial = '';
      }
      for (const line of lines) if (line) guestLog.info(line.replace(/\r$/, ''));
    });
    s.on('end', () => {
      if (partial) guestLog.info(partial);
      partial = '';
    });
    s.on('error', (err) => this.log.debug({ err }, 'guest log stream failed'));
  }

  /** An accept (or what follows it) bounded by the connection deadline; a miss is EVMSTART naming the port. */
  private async within<T>(deadline: number, limit: number, port: number, p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new LcowError('EVMSTART', `the guest did not connect to hvsock port ${port} within ${limit} ms of start`, {
              vmId: this.target.vmId,
              runtimeId: this.target.runtimeId,
              port,
              serviceId: vsockServiceId(port),
            }),
          ),
        Math.max(0, deadline - Date.now()),
      );
    });
    p.catch(() => undefined);
    try {
      return await Promise.race([p, late]);
    } catch (err) {
      throw err instanceof LcowError ? err : new LcowError('EVMSTART', `hvsock port ${port}: ${asError(err).message}`, { port }, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}
