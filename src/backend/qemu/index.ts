/** The QEMU backend's public face: the backend, its VM handle and its guest-image builder. */
export { QemuBackend, type QemuBackendOptions } from './backend.js';
export { QemuVm, type QemuVmOptions, type QemuGcsMode, type QemuGuestAgent } from './qemu-vm.js';
/** The qemu-guest-agent implementation of the guest operations, for comparing agents in one VM (bench:uvm). */
export { GuestOpsImpl as QemuAgentGuestOps } from './guest-ops.js';
export { QEMU_LIMITS } from './qemu-args.js';
export { ensureGuestImage, type BuildOptions, type BuildResult } from './image/build.js';
export { cacheRoot, type GuestImage, type GuestImageManifest } from './image/cache.js';
export { inspectDisk, VPMEM_ALIGNMENT, type DiskLayout } from './disk-format.js';
