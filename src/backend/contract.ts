/**
 * What a backend promises beyond its method signatures: how much virtual
 * hardware one VM can have, and where hypervisors behave differently. uvm
 * reads both from the backend it is given and never asks which backend it is.
 */

/** The most virtual hardware one VM of a backend can have. */
export interface BackendLimits {
  /** SCSI controllers (`VmSpec.scsiControllers` is 1 up to this). */
  readonly scsiControllers: number;
  /** LUNs on each SCSI controller. */
  readonly lunsPerController: number;
  /** VPMEM devices (`VmSpec.vpmem.count` is 0 up to this). */
  readonly vpmemDevices: number;
  /** The largest `VmSpec.vpmem.maxSizeBytes`: no VPMEM device maps a bigger file. */
  readonly vpmemMaxSizeBytes: number;
}

/** `VmSpec.vpmem.maxSizeBytes` is a multiple of this on every backend (hcsshim's rule; HCS rejects others). */
export const VPMEM_SIZE_ALIGNMENT = 4096;

/**
 * The LCOW utility VM's hardware as hcsshim defines it: 4 SCSI controllers of
 * 64 LUNs, 128 VPMEM devices. hcsshim sets no ceiling on a VPMEM device's
 * size, so neither does this: the largest aligned size a JS number holds
 * exactly. Each backend declares these or narrower limits.
 */
export const LCOW_LIMITS: BackendLimits = Object.freeze({
  scsiControllers: 4,
  lunsPerController: 64,
  vpmemDevices: 128,
  vpmemMaxSizeBytes: Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % VPMEM_SIZE_ALIGNMENT),
});

/** Behaviour that differs between hypervisors and that uvm must plan for. */
export interface BackendCapabilities {
  /**
   * What `removeVpmemDevice` frees.
   * - 'full': the device is gone and its slot takes any file (HCS).
   * - 'same-file-only': the device cannot be unplugged (QEMU 7.2: virtio-pmem);
   *   the guest lets go of it, but the slot keeps mapping its file and can
   *   only take that same file back.
   */
  readonly vpmemUnplug: 'full' | 'same-file-only';
  /**
   * Whether several files can share one VPMEM device, each mapped at its own
   * offset (`addVpmemMapping`; hcsshim's mapped VPMEM, HCS on 19H1+). Then a
   * device is a fixed `VmSpec.vpmem.maxSizeBytes` of guest memory that uvm
   * packs layers into, and the guest mounts each layer from its range.
   */
  readonly vpmemMapped: boolean;
}

/**
 * Why `addVpmemDevice` did not add the device. None of these is a failure:
 * the VM is unchanged and the caller can place the file elsewhere.
 * - 'too-large': the file's mapped data is bigger than `VmSpec.vpmem.maxSizeBytes`.
 * - 'unsuitable': the backend cannot map a file of this format or shape
 *   (QEMU: VHDX, dynamic VHD, data not a multiple of 2 MiB; HCS: raw files).
 * - 'slot-held': with `vpmemUnplug: 'same-file-only'`, the slot still maps
 *   another file (or this path's file was replaced on disk since): no file
 *   can have this slot but the one it holds.
 */
export type VpmemRefusal = 'too-large' | 'unsuitable' | 'slot-held';

/** The answer of `addVpmemDevice`; real failures (VM stopped, hypervisor error) reject instead. */
export type VpmemAddResult = { readonly added: true } | { readonly added: false; readonly refused: VpmemRefusal; readonly detail: string };

export const VPMEM_ADDED: VpmemAddResult = Object.freeze({ added: true });

export function vpmemRefused(refused: VpmemRefusal, detail: string): VpmemAddResult {
  return { added: false, refused, detail };
}
