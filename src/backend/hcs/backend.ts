/**
 * HcsBackend: builds the LCOW document for a VmSpec and creates the compute
 * system. Loads nothing at construction or import: the DLLs are loaded at
 * the first createVm, from System32 on win32 or the explicit paths given
 * (tests); anywhere else createVm rejects with EPLATFORM.
 */
import { componentLogger, type Logger } from '../../log.js';
import type { BackendCapabilities, BackendLimits } from '../contract.js';
import type { BootSpec, CreateVmOptions, HypervisorBackend, VmSpec } from '../types.js';
import { discoverBootFiles, defaultKirdPath, type BootFileNames } from './boot-files.js';
import { HCS_LIMITS, buildKernelCmdLine, buildLcowComputeSystem, vpmemDevice, type ComputeSystemDocument, type LcowBootDoc } from './documents/index.js';
import { injectedGuestLink, type GuestConnectionFactory } from './guest-connection.js';
import { hvsockGuestLink, type HvsockGuestOptions } from './guest-link.js';
import { loadNativeHcs, resolveLibraryPaths, type HcsLibraryPaths, type NativeHcs } from './native/load.js';
import { OperationRunner } from './operation.js';
import { HcsVm } from './vm.js';

export interface HcsBackendOptions {
  logger?: Logger;
  /** Explicit DLL paths (a stand-in library in tests); default System32 on win32. */
  libraries?: Partial<HcsLibraryPaths>;
  /** `Owner` in the compute-system document. */
  owner?: string;
  /** Boot folder (lcow.kirdpath); default %ProgramFiles%\Linux Containers. */
  kirdPath?: string;
  bootFiles?: BootFileNames;
  /** Boot through UEFI from the kirdpath folder instead of LinuxKernelDirect (older builds). */
  uefiBoot?: boolean;
  /**
   * Bring your own guest side (called once the VM has started). Default: hcsshim's GCS over the
   * VM's hvsockets, through ws2_32 (`libraries.ws2_32`, System32's on Windows).
   */
  guestConnection?: GuestConnectionFactory;
  /** The default guest side: the hvsock worker's poll interval, the GCS connection and request time limits. */
  hvsock?: Omit<HvsockGuestOptions, 'library'>;
  /** Per-operation limit for HCS calls, ms. */
  timeoutMs?: number;
  /**
   * Several layers per VPMEM device, each mapped at an offset (hcsshim's
   * mapped VPMEM, its default from Windows 10 1903 / build 18362 on).
   * Default true; false for older hosts (hcsshim's VPMemNoMultiMapping).
   */
  vpmemMultiMapping?: boolean;
  /** Grace for a cancelled operation to complete before its handle is abandoned. */
  cancelGraceMs?: number;
  platform?: NodeJS.Platform;
}

/** LCOW document for a spec: pure, so it can be printed or tested without HCS. */
export function lcowDocumentFor(spec: VmSpec, owner: string, uefi = false): ComputeSystemDocument {
  const rootOnPmem = spec.boot.kind === 'rootfs-image';
  const boot: LcowBootDoc = uefi ? uefiBoot(spec.boot) : kernelDirectBoot(spec.boot);
  return buildLcowComputeSystem({
    owner,
    memoryMiB: spec.memoryMiB,
    cpus: spec.cpus,
    boot,
    kernelCmdLine: buildKernelCmdLine({
      rootFs: rootOnPmem ? { kind: 'vpmem-rootfs' } : uefi ? { kind: 'initrd-uefi' } : { kind: 'initrd-direct' },
      cpus: spec.cpus,
      extraArgs: spec.kernelArgs,
    }),
    scsiControllers: spec.scsiControllers,
    vpmem: spec.vpmem,
    ...(spec.boot.kind === 'rootfs-image' ? { vpmemRootFs: vpmemDevice(spec.boot.imagePath) } : {}),
  });
}

function kernelDirectBoot(b: BootSpec): LcowBootDoc {
  return b.kind === 'kernel-initrd'
    ? { kind: 'kernel-direct', kernelPath: b.kernelPath, initrdPath: b.initrdPath }
    : { kind: 'kernel-direct', kernelPath: b.kernelPath };
}

/** UEFI loads the kernel by file name from its folder over VmbFs. */
function uefiBoot(b: BootSpec): LcowBootDoc {
  const i = Math.max(b.kernelPath.lastIndexOf('\\'), b.kernelPath.lastIndexOf('/'));
  return { kind: 'uefi', bootDir: b.kernelPath.slice(0, Math.max(i, 0)), kernelFile: b.kernelPath.slice(i + 1) };
}

export class HcsBackend implements HypervisorBackend {
  readonly name = 'hcs' as const;
  readonly limits: BackendLimits = HCS_LIMITS;
  readonly capabilities: BackendCapabilities;
  /** hcsshim's GCS, over hvsockets (or the injected guestConnection). */
  readonly guestAgent = 'gcs (bridge v4)';
  private native: { hcs: NativeHcs; paths: HcsLibraryPaths } | undefined;

  constructor(private readonly options: HcsBackendOptions = {}) {
    this.capabilities = { vpmemUnplug: 'full', vpmemMapped: options.vpmemMultiMapping ?? true };
  }

  async createVm(spec: VmSpec, options: CreateVmOptions = {}): Promise<HcsVm> {
    const { hcs: native, paths } = this.load();
    const logger = componentLogger(options.logger ?? this.options.logger, 'backend/hcs', { vmId: spec.id });
    const document = lcowDocumentFor(spec, this.options.owner ?? 'lcow-uvm', this.options.uefiBoot);
    const runner = new OperationRunner(native, { logger, cancelGraceMs: this.options.cancelGraceMs });
    const guest = this.options.guestConnection
      ? injectedGuestLink(this.options.guestConnection)
      : hvsockGuestLink({ requestTimeoutMs: spec.operationTimeoutMs, ...this.options.hvsock, library: paths.ws2_32 });
    const vm = new HcsVm(spec, document, { native, runner, guest, logger, timeoutMs: this.options.timeoutMs ?? spec.operationTimeoutMs });
    await vm.create();
    return vm;
  }

  defaultBoot(): Promise<BootSpec> {
    return discoverBootFiles(this.options.kirdPath ?? defaultKirdPath(), this.options.bootFiles);
  }

  private load(): { hcs: NativeHcs; paths: HcsLibraryPaths } {
    if (!this.native) {
      const paths = resolveLibraryPaths(this.options.libraries, this.options.platform ?? process.platform);
      this.native = { hcs: loadNativeHcs(paths), paths };
    }
    return this.native;
  }
}
