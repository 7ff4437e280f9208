/**
 * backend/gcs: the client for hcsshim's guest compute service, over any
 * byte stream. Shared by the backends that talk to a GCS (hcs on Windows,
 * qemu in its gcs mode). See README.md.
 */
export { GcsClient, DEFAULT_GCS_REQUEST_TIMEOUT_MS, type GcsConnectOptions, type GcsExecOptions, type GcsNegotiated } from './client.js';
export { GcsBridge, type BridgeOptions, type RpcOptions } from './bridge.js';
export { GcsGuestOps, type GuestModifier } from './guest-ops.js';
export type { StdioListener, StdioTransport } from './stdio.js';
export { DEFAULT_PROCESS_PATH, processParameters, exitCodeOf } from './process.js';
export { encodeFrame, FrameDecoder, HEADER_SIZE, DEFAULT_MAX_MESSAGE_BYTES, type Frame } from './framing.js';
export * from './guest-requests.js';
export {
  RPC,
  CONTAINER_NOTIFICATION,
  MESSAGE_KIND,
  NULL_CONTAINER_ID,
  PROTOCOL_VERSION,
  GCS_BRIDGE_PORT,
  FIRST_STDIO_PORT,
  INFINITE_WAIT_MS,
  SCSI_CONTROLLER_GUIDS,
  responseTypeOf,
  type RpcName,
  type ErrorRecord,
  type ResponseBase,
  type GcsCapabilities,
  type GcsProcessParameters,
  type VsockStdioRelaySettings,
  type ContainerNotification,
} from './protocol.js';
