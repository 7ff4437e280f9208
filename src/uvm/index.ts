/**
 * uvm/: the UtilityVM, its SCSI and VPMEM managers, union mounts, and the
 * container-layer helpers an engine calls. See README.md for the rules.
 */
export { createUtilityVM, UtilityVM, type UvmState } from './utility-vm.js';
export type { UtilityVMOptions, ResolvedOptions } from './options.js';
/** The option checks createUtilityVM makes, for callers that want them before creating anything. */
export { resolveOptions as resolveUtilityVMOptions } from './options.js';
export { mountContainerLayers, unmountContainerLayers, scratchDirs, type ContainerLayers, type MountContainerLayersOptions } from './container-layers.js';
export { addReadOnlyLayer, vpmemFallbackReason, type LayerMount, type VpmemFallbackReason } from './layers.js';
export { ScsiManager, type ScsiDisk, type ScsiAddOptions } from './scsi/manager.js';
export { AttachManager, LUNS_PER_CONTROLLER, MAX_SCSI_CONTROLLERS, type Attacher, type Unplugger, type Attachment } from './scsi/attach-manager.js';
export { MountManager, type Mounter, type MountConfig, type GuestMount } from './scsi/mount-manager.js';
export { VpmemManager, MAX_VPMEM_DEVICES, DEFAULT_VPMEM_DEVICES, DEFAULT_VPMEM_MAX_SIZE, type VpmemDevice, type VpmemHost, type VpmemMounter } from './vpmem/manager.js';
export { UnionManager, type UnionMount, type Combiner } from './union.js';
export { overlayMountData, validateCombineRequest, OVERLAY_MOUNT_DATA_MAX } from './overlay.js';
export { GuestPaths, GUEST_MOUNT_PREFIX } from './guest-paths.js';
export { nodeHostFiles, type HostFiles } from './host-files.js';
export { VmGuard } from './vm-guard.js';
export { Orphans } from './orphans.js';
