export { HcsBackend, lcowDocumentFor, type HcsBackendOptions } from './backend.js';
export { HcsVm } from './vm.js';
export {
  UnavailableGuestConnection,
  unavailableGuestConnection,
  type GuestConnection,
  type GuestConnectionFactory,
  type GuestConnectionTarget,
} from './guest-connection.js';
export { discoverBootFiles, defaultKirdPath, type BootFileNames } from './boot-files.js';
export { createVhdxViaVirtdisk, createVhdxParameters } from './vhdx.js';
export { HRESULT_NAMES, hresultError, hresultName, win32FromHresult } from './hresult.js';
export { systemLibraryPaths, hcsUnavailableError, type HcsLibraryPaths } from './native/load.js';
export * from './documents/index.js';
