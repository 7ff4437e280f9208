/**
 * hcsshim's bridge protocol as the host speaks it (internal/gcs/protocol.go
 * on the host, internal/guest/prot on the guest): message type codes, the
 * fixed identifiers, and the JSON shapes of the messages this client sends
 * and reads. Field names are the wire's; the guest's Go decoder matches them
 * case-insensitively, hcsshim spells them as here.
 */

/** Message type = kind | category | (n << 8) | 1. */
export const MESSAGE_KIND = { request: 0x10000000, response: 0x20000000, notification: 0x30000000 } as const;
const KIND_MASK = 0xf0000000;
const COMPUTE_SYSTEM = 0x00100000;

const request = (n: number): number => (MESSAGE_KIND.request | COMPUTE_SYSTEM | (n << 8) | 1) >>> 0;

/** The requests a host sends to a Linux GCS (Create/Start/Shutdown* for containers are left out: the project runs none). */
export const RPC = {
  ShutdownForced: request(4),
  ExecuteProcess: request(5),
  WaitForProcess: request(6),
  SignalProcess: request(7),
  ModifySettings: request(10),
  NegotiateProtocol: request(11),
  DumpStacks: request(12),
} as const;

export type RpcName = keyof typeof RPC;

/** What the guest sends when a container it created exits; this client runs no containers and only logs it. */
export const CONTAINER_NOTIFICATION = (MESSAGE_KIND.notification | COMPUTE_SYSTEM | (1 << 8) | 1) >>> 0;

/** The response to a request has the request's type with the kind replaced. */
export function responseTypeOf(requestType: number): number {
  return ((requestType & ~KIND_MASK) | MESSAGE_KIND.response) >>> 0;
}

export function kindOf(type: number): number {
  return (type & KIND_MASK) >>> 0;
}

export function rpcNameOf(type: number): string {
  const req = ((type & ~KIND_MASK) | MESSAGE_KIND.request) >>> 0;
  const found = Object.entries(RPC).find(([, t]) => t === req);
  return found ? found[0] : `0x${(type >>> 0).toString(16)}`;
}

/** The only protocol version hcsshim has spoken since at least v0.8.7; negotiated once, first. */
export const PROTOCOL_VERSION = 4;

/** The "container id" of requests addressed to the utility VM itself (hcsshim's nullContainerID). */
export const NULL_CONTAINER_ID = '00000000-0000-0000-0000-000000000000';

/**
 * SCSI controller keys, by controller index. hcsshim uses these v5 GUIDs
 * (internal/protocol/guestrequest/types.go) and its guest maps them back to
 * SCSI host numbers, so a GCS-based guest only finds disks on controllers
 * named exactly so. HCS itself accepts any unique name.
 */
export const SCSI_CONTROLLER_GUIDS = [
  'df6d0690-79e5-55b6-a5ec-c1e2f77f580a',
  '0110f83b-de10-5172-a266-78bca56bf50a',
  'b5d2d8d4-3a75-51bf-945b-3444dc6b8579',
  '305891a9-b251-5dfe-91a2-c25d9212275b',
] as const;

/** The bridge's vsock port (hvsock service 40000000-facb-11e6-bd58-64006a7986d3 on Windows). */
export const GCS_BRIDGE_PORT = 0x40000000;

/** Process stdio ports start here, one per stream, never reused within a connection (hcsshim's nextPort). */
export const FIRST_STDIO_PORT = 0x40000001;

/** WaitForProcess with this time limit waits for ever. */
export const INFINITE_WAIT_MS = 0xffffffff;

/** Every request carries these. */
export interface RequestBase {
  ContainerId: string;
  ActivityId: string;
}

export interface ErrorRecord {
  Result: number;
  Message: string;
  StackTrace?: string;
  ModuleName: string;
  FileName: string;
  Line: number;
  FunctionName?: string;
}

/** Every response carries these; Result 0 is success. */
export interface ResponseBase {
  Result: number;
  ActivityId?: string;
  ErrorMessage?: string;
  ErrorRecords?: ErrorRecord[];
}

export interface GcsCapabilities {
  SupportedSchemaVersions?: { Major: number; Minor: number }[];
  RuntimeOsType?: string;
  GuestDefinedCapabilities?: Record<string, unknown>;
}

export interface NegotiateProtocolResponse extends ResponseBase {
  Version?: number;
  Capabilities?: GcsCapabilities;
}

export interface ExecuteProcessResponse extends ResponseBase {
  ProcessId: number;
}

export interface WaitForProcessResponse extends ResponseBase {
  ExitCode: number;
}

export interface DumpStacksResponse extends ResponseBase {
  GuestStacks?: string;
}

/** The stdio ports the guest dials for a process (absent: no pipe for that stream). */
export interface VsockStdioRelaySettings {
  StdIn?: number;
  StdOut?: number;
  StdErr?: number;
}

/**
 * The guest's ProcessParameters for a process in the utility VM: argv as an
 * array (never a command line), the environment whole (it is not
 * inherited), pipes only for the streams relayed.
 */
export interface GcsProcessParameters {
  CommandArgs: string[];
  WorkingDirectory?: string;
  Environment: Record<string, string>;
  EmulateConsole: false;
  CreateStdInPipe: boolean;
  CreateStdOutPipe: boolean;
  CreateStdErrPipe: boolean;
  /** Run in the utility VM itself, not in a container (the guest's IsExternal). */
  CreateInUtilityVM: true;
}

/** A container notification (guest → host). */
export interface ContainerNotification {
  ContainerId?: string;
  ActivityId?: string;
  Type?: string;
  Operation?: string;
  Result?: number;
  ResultInfo?: string;
}
