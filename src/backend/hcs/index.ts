export { HcsBackend, lcowDocumentFor, type HcsBackendOptions } from './backend.js';
export { HcsVm } from './vm.js';
export { type GuestConnection, type GuestConnectionFactory, type GuestConnectionTarget } from './guest-connection.js';
export { ENTROPY_PORT, LOG_PORT, DEFAULT_GCS_CONNECT_TIMEOUT_MS, type HvsockGuestOptions } from './guest-link.js';
export {
  acquireHvsock,
  liveHvsockWorkers,
  vsockServiceId,
  HvsockTransport,
  HvsockListener,
  HvsockStream,
  HvsockStdio,
  type HvsockLease,
  type HvsockOptions,
} from './hvsock/index.js';
export { discoverBootFiles, defaultKirdPath, type BootFileNames } from './boot-files.js';
export { createVhdxViaVirtdisk, createVhdxParameters } from './vhdx.js';
export { HRESULT_NAMES, hresultError, hresultName, win32FromHresult } from './hresult.js';
export { systemLibraryPaths, hcsUnavailableError, type HcsLibraryPaths } from './native/load.js';
export * from './documents/index.js';
