/** The LCOW storage driver: the graph-driver verbs over a data root, service VMs where a VM is needed. */
export { LcowDriver, type CreateOptions, type CreateReadWriteOptions, type ApplyDiffOptions, type DriverStatus } from './driver.js';
export type { LayerHandle, RootfsSpec } from './layer-handle.js';
export type { GuestStat, MkdirOptions, PlacedEntry, RemoveOptions } from './guest-fs.js';
export {
  parseLcowOptions,
  parseSandboxSizeGB,
  defaultLcowOptions,
  DEFAULT_SANDBOX_SIZE_GB,
  DEFAULT_TIMEOUT_SECONDS,
  MAX_SANDBOX_SIZE_GB,
  type LcowOptions,
  type LcowDriverOpenOptions,
} from './options.js';
export type { DriverBackend } from './driver-backend.js';
export { LAYER_FILE, SANDBOX_FILE, CHAIN_FILE, REMOVING_SUFFIX, MAX_LAYER_ID_BYTES, checkLayerId } from './layout.js';
export type { Change, ChangeKind } from './host-diff/changes.js';
/** A Change's path (text, stray bytes as U+DC80..U+DCFF) → the name's exact bytes. */
export { textToBuffer } from '../byte-names.js';
export type { FileGetCloser } from './host-diff/diff-getter.js';
/** One lock per key (a layer id), for layers built on the driver (the plugin server's Get directories). */
export { KeyedMutex } from './keyed-mutex.js';
/** A container process on a union (runc in the VM, own namespaces, no mount or device capabilities): `lcow vm run --layer`. */
export { CONTAINER_BASE_DIR, makeContainerBase, runContainer, type ContainerRun } from './container-run.js';
