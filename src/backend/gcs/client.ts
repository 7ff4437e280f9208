/**
 * A negotiated connection to a GCS: the one object a backend holds per VM.
 * `connect` sends NegotiateProtocol (version 4 only) first and exactly once;
 * after that every method is one or two bridge requests addressed to the
 * utility VM (the null container id).
 */
import type { Duplex } from 'node:stream';
import { LcowError } from '../../errors.js';
import { componentLogger, type Logger } from '../../log.js';
import type { ExecOptions, ExecResult } from '../types.js';
import { GcsBridge, type BridgeOptions } from './bridge.js';
import type { GuestModifyRequest } from './guest-requests.js';
import { runProcess } from './process.js';
import {
  FIRST_STDIO_PORT,
  NULL_CONTAINER_ID,
  PROTOCOL_VERSION,
  type DumpStacksResponse,
  type GcsCapabilities,
  type NegotiateProtocolResponse,
} from './protocol.js';
import type { StdioTransport } from './stdio.js';

/** Default time limit of one request (WaitForProcess has none). */
export const DEFAULT_GCS_REQUEST_TIMEOUT_MS = 60_000;

export interface GcsConnectOptions extends BridgeOptions {
  /** Time limit of each request but WaitForProcess (default 60 s); a late answer is abandoned, the bridge stays. */
  requestTimeoutMs?: number;
  /** Carries process stdio; without it processes run with no pipes (exit code only). */
  stdio?: StdioTransport;
  /** First stdio port of this connection (default 0x40000001, hcsshim's). */
  firstStdioPort?: number;
  /** Time limit of the negotiation (default: requestTimeoutMs). */
  negotiateTimeoutMs?: number;
  vmId?: string;
}

/** The outcome of NegotiateProtocol, kept to resume a restored guest's bridge. */
export interface GcsNegotiated {
  protocolVersion: number;
  capabilities: GcsCapabilities;
}

export interface GcsExecOptions extends ExecOptions {
  /** Run without stdio even when the connection has a transport (exit code only). */
  noStdio?: boolean;
}

export class GcsClient {
  private nextPort: number;
  private readonly log: Logger;

  private constructor(
    private readonly bridge: GcsBridge,
    private readonly options: GcsConnectOptions,
    /** The protocol version the guest agreed to (4). */
    readonly protocolVersion: number,
    /** What the guest says it supports (schema versions, OS type, optional requests). */
    readonly capabilities: GcsCapabilities,
  ) {
    this.nextPort = options.firstStdioPort ?? FIRST_STDIO_PORT;
    this.log = componentLogger(options.logger, 'gcs-client', options.vmId ? { vmId: options.vmId } : {});
  }

  /** Take over a stream to a GCS and negotiate protocol version 4 on it. */
  static async connect(stream: Duplex, options: GcsConnectOptions = {}): Promise<GcsClient> {
    const bridge = new GcsBridge(stream, options);
    const timeoutMs = options.negotiateTimeoutMs ?? options.requestTimeoutMs ?? DEFAULT_GCS_REQUEST_TIMEOUT_MS;
    let answer: NegotiateProtocolResponse;
    try {
      answer = await bridge.rpc<NegotiateProtocolResponse>(
        'NegotiateProtocol',
        { ContainerId: NULL_CONTAINER_ID, MinimumVersion: PROTOCOL_VERSION, MaximumVersion: PROTOCOL_VERSION },
        { timeoutMs },
      );
    } catch (err) {
      bridge.close();
      throw err;
    }
    if (answer.Version !== PROTOCOL_VERSION) {
      bridge.close();
      throw new LcowError('EBRIDGE', `the GCS negotiated protocol version ${String(answer.Version)}, not ${PROTOCOL_VERSION}`, {
        reason: 'version',
        version: answer.Version,
      });
    }
    return new GcsClient(bridge, options, answer.Version, answer.Capabilities ?? {});
  }

  /**
   * Take over a stream to a GCS that already negotiated with an earlier host
   * end of the same guest — a VM restored from a template saved after its
   * negotiation: a GCS negotiates once per boot, so the agreed state is
   * reused instead (`negotiated` from that earlier client).
   */
  static resume(stream: Duplex, negotiated: GcsNegotiated, options: GcsConnectOptions = {}): GcsClient {
    if (negotiated.protocolVersion !== PROTOCOL_VERSION) {
      throw new LcowError('EBRIDGE', `cannot resume protocol version ${String(negotiated.protocolVersion)}, only ${PROTOCOL_VERSION}`, {
        reason: 'version',
        version: negotiated.protocolVersion,
      });
    }
    return new GcsClient(new GcsBridge(stream, options), options, negotiated.protocolVersion, negotiated.capabilities);
  }

  /** What was agreed at negotiation, for resume(). */
  get negotiated(): GcsNegotiated {
    return { protocolVersion: this.protocolVersion, capabilities: this.capabilities };
  }

  /** Resolves with the error that ended the connection (the peer hung up, a broken frame, stop or close). */
  get closed(): Promise<LcowError> {
    return this.bridge.closed;
  }

  get isClosed(): boolean {
    return this.bridge.isClosed;
  }

  /** One ModifySettings request for the utility VM (mount, unmount, unite, unplug). */
  async modify(request: GuestModifyRequest, options: { timeoutMs?: number } = {}): Promise<void> {
    await this.bridge.rpc(
      'ModifySettings',
      { ContainerId: NULL_CONTAINER_ID, Request: request },
      {
        timeoutMs: options.timeoutMs ?? this.requestTimeoutMs,
        context: { resourceType: request.ResourceType, requestType: request.RequestType, ...(this.options.vmId ? { vmId: this.options.vmId } : {}) },
      },
    );
  }

  /** Run a process in the VM from argv; resolves with any exit code (see process.ts for stdio and time limits). */
  exec(argv: readonly string[], options: GcsExecOptions = {}): Promise<ExecResult> {
    return runProcess(
      {
        bridge: this.bridge,
        stdio: options.noStdio ? undefined : this.options.stdio,
        nextPort: () => this.nextPort++,
        requestTimeoutMs: this.requestTimeoutMs,
        log: this.log,
      },
      argv,
      options,
    );
  }

  /** Whether exec can return output (a stdio transport was given). */
  get hasStdio(): boolean {
    return this.options.stdio !== undefined;
  }

  /** Every goroutine's stack in the GCS, for diagnostics. */
  async dumpStacks(): Promise<string> {
    const r = await this.bridge.rpc<DumpStacksResponse>('DumpStacks', { ContainerId: NULL_CONTAINER_ID }, { timeoutMs: this.requestTimeoutMs });
    return r.GuestStacks ?? '';
  }

  /** Power the VM off now. No answer comes (the VM is gone); resolves once the request is written. */
  async shutdownForced(): Promise<void> {
    await this.bridge.post('ShutdownForced', { ContainerId: NULL_CONTAINER_ID });
  }

  /** The VM is gone: pending and later requests reject EVMSTOPPED. */
  stop(reason: string): void {
    this.bridge.stop(reason);
  }

  /** Close the connection from the host's side. A GCS serves one connection per boot. */
  async close(): Promise<void> {
    this.bridge.close();
  }

  private get requestTimeoutMs(): number {
    return this.options.requestTimeoutMs ?? DEFAULT_GCS_REQUEST_TIMEOUT_MS;
  }
}
