/** The QEMU backend's public face: the backend, its VM handle and its guest-image builder. */
export { QemuBackend, type QemuBackendOptions } from './backend.js';
export { QemuVm, VPMEM_ALIGNMENT, SCSI_LUNS_PER_CONTROLLER, type QemuVmOptions } from './qemu-vm.js';
export { ensureGuestImage, type BuildOptions, type BuildResult } from './image/build.js';
export { cacheRoot, type GuestImage, type GuestImageManifest } from './image/cache.js';
export { inspectDisk, type DiskLayout } from './disk-format.js';
