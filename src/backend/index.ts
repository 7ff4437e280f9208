/**
 * backend/: the hypervisor interface, its contract (limits, capabilities, the
 * VPMEM refusal) and how to pick an implementation. The implementations are
 * their own entry points (loaded lazily by selectBackend): ./qemu (Linux, the
 * embedded default) and ./hcs (Windows).
 */
export * from './types.js';
export * from './contract.js';
export { selectBackend, resolveBackendChoice, type BackendChoice, type SelectBackendOptions } from './select.js';
