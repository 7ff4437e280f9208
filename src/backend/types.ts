/**
 * The hypervisor interface: one shape for QEMU (Linux) and HCS (Windows).
 *
 * It is split the way the host/guest boundary is. Host operations change the
 * virtual hardware (hot-plug a disk at a SCSI controller/LUN, a VPMEM device
 * at a slot). Guest operations act inside the running Linux (mount, unmount,
 * unplug, overlay, run a process). The uvm/ managers decide *which* slot and
 * *which* guest path; a backend only carries out the request it is given.
 *
 * Every method rejects with an LcowError (see ../errors.ts); when the VM exits
 * while a call is pending, that call rejects with code EVMSTOPPED. The one
 * expected "no" — a file that cannot be a VPMEM device — is a result, not an
 * error (see contract.ts).
 */
import type { Logger } from '../log.js';
import type { BackendCapabilities, BackendLimits, VpmemAddResult } from './contract.js';

/** How the guest boots. */
export type BootSpec =
  | { kind: 'kernel-initrd'; kernelPath: string; initrdPath: string }
  /** A root-file-system image (VHD/VHDX/raw) booted with a kernel on the side or from the image itself. */
  | { kind: 'rootfs-image'; kernelPath: string; imagePath: string };

export interface VmSpec {
  /** Unique id of the VM (used in logs, socket names, HCS system id). */
  id: string;
  /** Guest memory in MiB. */
  memoryMiB: number;
  /** Virtual processors. */
  cpus: number;
  boot: BootSpec;
  /** Extra kernel command-line parameters appended to the backend's own. */
  kernelArgs?: string;
  /** SCSI controllers, 1 up to the backend's `limits.scsiControllers`. */
  scsiControllers: number;
  /** Hot-pluggable VPMEM devices, within the backend's `limits`. count 0 disables VPMEM. */
  vpmem: { count: number; maxSizeBytes: number };
  /** Per-operation time limit for guest requests, ms (default chosen by the backend). */
  operationTimeoutMs?: number;
}

/** Image format of a disk file. Backends may detect it from the file when omitted. */
export type DiskFormat = 'vhd' | 'vhdx' | 'raw';

export interface DiskAttachment {
  hostPath: string;
  readOnly: boolean;
  format?: DiskFormat;
}

export interface VpmemAttachment {
  hostPath: string;
  format?: DiskFormat;
}

export interface ScsiMountRequest {
  controller: number;
  lun: number;
  guestPath: string;
  readOnly: boolean;
  /** Extra mount options (e.g. 'noload'); never a shell fragment. */
  options?: string[];
  /** File system type; default ext4. */
  fsType?: string;
}

export interface VpmemMountRequest {
  slot: number;
  guestPath: string;
  fsType?: string;
  /** Mount only this part of the device (mapped VPMEM: one layer among several on one device). */
  mapping?: VpmemMapping;
}

/** Where one layer sits on a VPMEM device shared by several (hcsshim's mapped VPMEM). */
export interface VpmemMapping {
  /** Byte offset of the layer on the device (a multiple of 4096). */
  offsetBytes: number;
  /** Bytes of the layer (a multiple of 4096). */
  sizeBytes: number;
}

export interface CombineLayersRequest {
  /** Read-only lower directories in the guest, top-most first. */
  lowerDirs: string[];
  /** Upper/work directories (on the read-write scratch). Absent: a read-only overlay. */
  upperDir?: string;
  workDir?: string;
  /** Where the union appears in the guest. */
  target: string;
}

export interface ExecOptions {
  stdin?: Buffer | string;
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the process and reject with ETIMEOUT after this many ms. */
  timeoutMs?: number;
  /** Cap on captured stdout/stderr each; output past it is dropped and `truncated` set. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exitCode: number;
  /** Set when the process was ended by a signal. */
  signal?: number;
  stdout: Buffer;
  stderr: Buffer;
  truncated: boolean;
}

export type VmState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface VmExitInfo {
  /** 'terminated' by us; 'exited' on its own (guest shutdown/panic/crash); 'killed' the hypervisor process died. */
  reason: 'terminated' | 'exited' | 'killed';
  detail?: string;
}

export interface VmProperties {
  id: string;
  state: VmState;
  backend: BackendName;
  /** Process id of the hypervisor process where there is one (QEMU). */
  pid?: number;
  memoryMiB: number;
  cpus: number;
  /** How it started, where a backend can do either: a cold boot, or a restore of a saved template (QEMU). */
  startMode?: 'cold' | 'template';
}

/** Host side: the virtual hardware. */
export interface HostOps {
  addScsiDisk(controller: number, lun: number, disk: DiskAttachment): Promise<void>;
  removeScsiDisk(controller: number, lun: number): Promise<void>;
  /** Resolves `{ added: false, refused }` for a file this VM cannot map (see VpmemAddResult). */
  addVpmemDevice(slot: number, device: VpmemAttachment): Promise<VpmemAddResult>;
  /** With `capabilities.vpmemUnplug: 'same-file-only'` the slot then holds its file (see BackendCapabilities). */
  removeVpmemDevice(slot: number): Promise<void>;
  /**
   * With `capabilities.vpmemMapped`: map a file at `offsetBytes` of VPMEM
   * device `slot`; the first mapping of a slot creates the device. Refusals
   * as for addVpmemDevice. Without the capability: EUNSUPPORTED.
   */
  addVpmemMapping(slot: number, offsetBytes: number, device: VpmemAttachment): Promise<VpmemAddResult>;
  /** Undo addVpmemMapping; the last mapping of a slot takes the device with it. */
  removeVpmemMapping(slot: number, offsetBytes: number): Promise<void>;
}

/** Guest side: requests carried out inside the running Linux. */
export interface GuestOps {
  mountScsi(req: ScsiMountRequest): Promise<void>;
  mountVpmem(req: VpmemMountRequest): Promise<void>;
  /** Unmount a guest path (and remove the now-empty mount-point directory). */
  unmount(guestPath: string): Promise<void>;
  /** Tell the guest to drop a SCSI device before the host removes it. */
  unplugScsi(controller: number, lun: number): Promise<void>;
  combineLayers(req: CombineLayersRequest): Promise<void>;
  /** Undo combineLayers: unmount the overlay at target. */
  removeCombinedLayers(target: string): Promise<void>;
  /** Run a process from an argv array (never a shell string). Resolves with any exit code. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

/** A virtual machine as one backend realises it. Owned by exactly one UtilityVM. */
export interface VmHandle extends HostOps, GuestOps {
  readonly id: string;
  readonly state: VmState;
  /** Boot and wait until the guest answers requests. */
  start(): Promise<void>;
  /** Stop the VM now (graceful attempt, then kill). Idempotent. */
  terminate(): Promise<void>;
  /** Resolves when the VM has stopped, for whatever reason. */
  waitExit(): Promise<VmExitInfo>;
  properties(): Promise<VmProperties>;
}

export type BackendName = 'qemu' | 'hcs' | 'fake';

export interface CreateVmOptions {
  logger?: Logger;
}

export interface HypervisorBackend {
  readonly name: BackendName;
  /** What serves guest requests, for people reading logs and reports: 'gcs (bridge v4)', 'qemu-guest-agent', 'fake'. */
  readonly guestAgent: string;
  readonly limits: BackendLimits;
  readonly capabilities: BackendCapabilities;
  /** Build (not boot) a VM. */
  createVm(spec: VmSpec, options?: CreateVmOptions): Promise<VmHandle>;
  /**
   * The boot files this backend uses when the caller names none: QEMU builds
   * (or finds cached) its guest image; HCS looks in the kirdpath folder.
   */
  defaultBoot(): Promise<BootSpec>;
}
