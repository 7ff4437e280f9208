/**
 * QemuBackend: creates QemuVm handles. Without an explicit boot spec a VM
 * boots the guest image this backend builds (or finds cached).
 *
 * Acceleration defaults to TCG: on the hosts this runs on, /dev/kvm may
 * exist yet hang at boot, and TCG always works. LCOW_QEMU_ACCEL (or the
 * `accel` option) overrides it, e.g. 'kvm'.
 */
import type { Logger } from '../../log.js';
import type { BackendName, BootSpec, CreateVmOptions, HypervisorBackend, VmHandle, VmSpec } from '../types.js';
import { ensureGuestImage } from './image/build.js';
import { validateSpec } from './qemu-args.js';
import { QemuVm } from './qemu-vm.js';

export interface QemuBackendOptions {
  qemuBinary?: string;
  accel?: string;
  /** Boot → agent-ready limit, ms (TCG on a loaded host is slow: default 180 s). */
  startTimeoutMs?: number;
  stopGraceMs?: number;
  /** Write each VM's serial console to `<dir>/<vm id>.log` (kernel messages, for debugging). */
  consoleLogDir?: string;
  logger?: Logger;
}

export class QemuBackend implements HypervisorBackend {
  readonly name: BackendName = 'qemu';
  private bootPromise: Promise<BootSpec> | undefined;

  constructor(private readonly options: QemuBackendOptions = {}) {}

  defaultBoot(): Promise<BootSpec> {
    this.bootPromise ??= ensureGuestImage({ logger: this.options.logger }).then(
      (img): BootSpec => ({ kind: 'kernel-initrd', kernelPath: img.kernelPath, initrdPath: img.initrdPath }),
      (err: unknown) => {
        this.bootPromise = undefined;
        throw err;
      },
    );
    return this.bootPromise;
  }

  async createVm(spec: VmSpec, options: CreateVmOptions = {}): Promise<QemuVm & VmHandle> {
    validateSpec(spec);
    const boot = spec.boot;
    if (boot.kind !== 'kernel-initrd') throw new Error('unreachable: validateSpec rejects other boot kinds');
    const o = this.options;
    const consoleDir = o.consoleLogDir ?? process.env.LCOW_QEMU_CONSOLE_DIR;
    return new QemuVm(spec, {
      qemuBinary: o.qemuBinary ?? process.env.LCOW_QEMU_BINARY ?? 'qemu-system-x86_64',
      accel: o.accel ?? process.env.LCOW_QEMU_ACCEL ?? 'tcg',
      kernelPath: boot.kernelPath,
      initrdPath: boot.initrdPath,
      startTimeoutMs: o.startTimeoutMs ?? 180_000,
      stopGraceMs: o.stopGraceMs ?? 5_000,
      consoleLogPath: consoleDir ? `${consoleDir}/${spec.id}.log` : undefined,
      logger: options.logger ?? o.logger,
    });
  }
}
