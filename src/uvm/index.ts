/**
 * uvm/: the UtilityVM, its SCSI and VPMEM managers, union mounts, and the
 * container-layer helpers an engine calls. See README.md for the rules.
 * The managers' parts (attachments, guest mounts, mount points) stay inside.
 */
export { createUtilityVM, UtilityVM, type UvmState } from './utility-vm.js';
export type { UtilityVMOptions, ResolvedOptions } from './options.js';
/** The option checks createUtilityVM makes, for callers that want them before creating anything. */
export { resolveOptions as resolveUtilityVMOptions } from './options.js';
export {
  mountContainerLayers,
  unmountContainerLayers,
  scratchDirs,
  type ContainerLayer,
  type ContainerLayers,
  type MountContainerLayersOptions,
  type ScratchLayer,
} from './container-layers.js';
export type { LayerMount } from './layers.js';
export type { ScsiManager, ScsiDisk, ScsiAddOptions } from './scsi/manager.js';
export type { Attachment } from './scsi/attach-manager.js';
export type { MountConfig } from './scsi/mount-manager.js';
export type { VpmemManager, VpmemDevice, VpmemAddOutcome, VpmemFallbackReason } from './vpmem/manager.js';
export type { UnionManager, UnionMount } from './union.js';
export { overlayMountData, validateCombineRequest, OVERLAY_MOUNT_DATA_MAX } from './overlay.js';
export type { HostFiles } from './host-files.js';
