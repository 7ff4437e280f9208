/**
 * QemuBackend: creates QemuVm handles. Without an explicit boot spec a VM
 * boots the guest image this backend builds (or finds cached).
 *
 * Guest agent: qemu-guest-agent by default; hcsshim's GCS when given a GCS
 * binary (`guest: { gcsBinary }`, or LCOW_GCS_BINARY=/path/to/gcs). Then the
 * guest image is the gcs variant (cached beside the default one, keyed also
 * by the binary's sha256) and every VM of this backend runs in gcs mode.
 *
 * Acceleration: 'auto' by default — KVM when a probe VM really boots with
 * it, else TCG (see accel-probe.ts: /dev/kvm can exist and still hang every
 * VM at boot). LCOW_QEMU_ACCEL (or the `accel` option) names one instead:
 * 'tcg', 'kvm', or anything QEMU's -accel takes.
 */
import path from 'node:path';
import { componentLogger, type Logger } from '../../log.js';
import type { BackendCapabilities, BackendLimits } from '../contract.js';
import type { BackendName, BootSpec, CreateVmOptions, HypervisorBackend, VmHandle, VmSpec } from '../types.js';
import { findProgram } from '../../find-program.js';
import { runHostCommand } from './host-command.js';
import { chooseAccel, qemuContext } from './accel-probe.js';
import { ensureGuestImage } from './image/build.js';
import { cacheRoot } from './image/cache.js';
import { QEMU_LIMITS, validateSpec } from './qemu-args.js';
import { QemuVm, vmQemuArgs, type QemuGcsMode, type QemuVmOptions, type VmTemplateSource } from './qemu-vm.js';
import { templateKey, templateShape } from './template/key.js';
import { templateInputs } from './template/inputs.js';
import { TemplateStore, type TemplateRecipe } from './template/store.js';
import { vsockStdio } from './vsock-stdio.js';

/** Boot → agent-ready limit of the KVM probe VM; working KVM needs well under this. */
export const KVM_PROBE_TIMEOUT_MS = 10_000;
let probeSerial = 0;

export interface QemuBackendOptions {
  qemuBinary?: string;
  /** 'auto' (default), 'tcg', 'kvm', … — see above. */
  accel?: string;
  /** Boot → agent-ready limit, ms (TCG on a loaded host is slow: default 180 s). */
  startTimeoutMs?: number;
  stopGraceMs?: number;
  /** Write each VM's serial console to `<dir>/<vm id>.log` (kernel messages, for debugging). */
  consoleLogDir?: string;
  logger?: Logger;
  /**
   * What serves guest requests: 'qemu-guest-agent', or hcsshim's GCS from a
   * static binary you built (`{ gcsBinary }`). Default: the GCS when
   * LCOW_GCS_BINARY names one, else qemu-guest-agent.
   */
  guest?: 'qemu-guest-agent' | { gcsBinary: string };
  /**
   * Start VMs from a saved template of their shape (template/): built once
   * per guest image, QEMU and VM shape in `<cache>/templates/`, restored in a
   * fraction of a cold boot. Default: on, unless LCOW_QEMU_TEMPLATES=0.
   * In gcs mode the restored VM's client resumes the bridge the builder
   * negotiated; not with vsock (a guest CID is host-wide).
   */
  templates?: boolean;
}

export class QemuBackend implements HypervisorBackend {
  readonly name: BackendName = 'qemu';
  readonly limits: BackendLimits = QEMU_LIMITS;
  /**
   * QEMU 7.2 cannot unplug virtio-pmem (see QemuVm.removeVpmemDevice), and a
   * virtio-pmem device is one memory-backend-file: one file, from its start,
   * so no device holds several layers at offsets (vpmemMapped false, in gcs
   * mode too; the GCS's side of MappingInfo is still proven, with one file
   * that holds two images).
   */
  readonly capabilities: BackendCapabilities = { vpmemUnplug: 'same-file-only', vpmemMapped: false };
  /** The GCS binary of gcs mode, or undefined for qemu-guest-agent. */
  readonly gcsBinary: string | undefined;
  private bootPromise: Promise<BootSpec> | undefined;
  private agentBootPromise: Promise<BootSpec> | undefined;
  private accelPromise: Promise<string> | undefined;
  private templateStore: TemplateStore | undefined;

  constructor(private readonly options: QemuBackendOptions = {}) {
    const guest = options.guest ?? (process.env.LCOW_GCS_BINARY ? { gcsBinary: process.env.LCOW_GCS_BINARY } : 'qemu-guest-agent');
    this.gcsBinary = guest === 'qemu-guest-agent' ? undefined : guest.gcsBinary;
  }

  get guestAgent(): string {
    return this.gcsBinary === undefined ? 'qemu-guest-agent' : 'gcs (bridge v4)';
  }

  /** The guest image this backend's VMs boot: the gcs variant in gcs mode. */
  defaultBoot(): Promise<BootSpec> {
    this.bootPromise ??= this.buildBoot(this.gcsBinary);
    return this.bootPromise;
  }

  /** The default (qemu-guest-agent) image: what the accelerator probe boots in either mode. */
  private agentBoot(): Promise<BootSpec> {
    if (this.gcsBinary === undefined) return this.defaultBoot();
    this.agentBootPromise ??= this.buildBoot(undefined);
    return this.agentBootPromise;
  }

  private buildBoot(gcsBinary: string | undefined): Promise<BootSpec> {
    return ensureGuestImage({ logger: this.options.logger, ...(gcsBinary === undefined ? {} : { gcsBinary }) }).then(
      (img): BootSpec => ({ kind: 'kernel-initrd', kernelPath: img.kernelPath, initrdPath: img.initrdPath }),
      (err: unknown) => {
        if (gcsBinary === this.gcsBinary) this.bootPromise = undefined;
        else this.agentBootPromise = undefined;
        throw err;
      },
    );
  }

  async createVm(spec: VmSpec, options: CreateVmOptions = {}): Promise<QemuVm & VmHandle> {
    validateSpec(spec);
    const boot = spec.boot;
    if (boot.kind !== 'kernel-initrd') throw new Error('unreachable: validateSpec rejects other boot kinds');
    const o = this.options;
    const consoleDir = o.consoleLogDir ?? process.env.LCOW_QEMU_CONSOLE_DIR;
    const vmOptions: QemuVmOptions = {
      qemuBinary: this.qemuBinary(),
      // The probe boots the VM's own files, except a gcs image (its init waits for a GCS port the probe has not).
      accel: await this.accel(this.gcsBinary === undefined ? boot : undefined),
      kernelPath: boot.kernelPath,
      initrdPath: boot.initrdPath,
      startTimeoutMs: o.startTimeoutMs ?? 180_000,
      stopGraceMs: o.stopGraceMs ?? 5_000,
      consoleLogPath: consoleDir ? `${consoleDir}/${spec.id}.log` : undefined,
      logger: options.logger ?? o.logger,
      ...(this.gcsBinary === undefined ? {} : { gcs: this.gcsMode() }),
    };
    // not with vsock: its guest CID is host-wide, so a clone cannot keep the template's
    const template = this.templatesWanted() && vmOptions.gcs?.vsock === undefined ? this.templateSource(spec, vmOptions) : undefined;
    return new QemuVm(spec, template ? { ...vmOptions, template } : vmOptions);
  }

  /** Are templates on for this backend (option, else LCOW_QEMU_TEMPLATES, default on)? */
  private templatesWanted(): boolean {
    return this.options.templates ?? process.env.LCOW_QEMU_TEMPLATES !== '0';
  }

  /** The template of this VM's shape, from the backend's store; built by a VM of the same options. */
  private templateSource(spec: VmSpec, vm: QemuVmOptions): VmTemplateSource {
    const shape = templateShape(spec, {
      guest: vm.gcs ? 'gcs' : 'qemu-guest-agent',
      serialConsole: vm.consoleLogPath !== undefined,
      kernelPath: vm.kernelPath,
      initrdPath: vm.initrdPath,
    });
    this.templateStore ??= new TemplateStore({ cacheRoot: cacheRoot(), logger: this.options.logger });
    const store = this.templateStore;
    const recipe: TemplateRecipe = {
      inputs: () => {
        // the argv of a restore with every per-VM path and name made constant: its device layout
        const argv = vmQemuArgs({ ...spec, id: 'template' }, vm, { runDir: '/', consoleLogPath: vm.consoleLogPath && 'console' }, { ramPath: 'ram' });
        return templateInputs({ ...vm, argv });
      },
      build: async (files) => {
        const builder = new QemuVm(
          { ...spec, id: `tpl-${templateKey(shape).slice(0, 12)}` },
          { ...vm, consoleLogPath: vm.consoleLogPath && `${vm.consoleLogPath}.template`, ramFile: files.ramPath },
        );
        try {
          await builder.start();
          await builder.saveTemplateState(files.statePath);
        } finally {
          await builder.terminate();
        }
        // pages the guest freed but had touched are zeros in the file: holes take no disk (~15% here)
        await runHostCommand('fallocate', ['--dig-holes', files.ramPath]).catch(() => undefined);
      },
    };
    return {
      acquire: () => store.acquire(shape, recipe),
      discard: (files, why) => store.discard(files, why),
    };
  }

  /** gcs mode, with vsock stdio where the host can give a guest a vsock device (vsock-stdio.ts). */
  private gcsMode(): QemuGcsMode {
    const vsock = vsockStdio();
    return vsock ? { vsock } : {};
  }

  /**
   * The accelerator VMs of this backend use: the one asked for, or for
   * 'auto' the probe's verdict (once per backend; remembered on disk per
   * host boot). `boot` is what a probe VM boots (default: the
   * qemu-guest-agent image, in gcs mode too: the probe waits for its agent).
   */
  accel(boot?: { kernelPath: string; initrdPath: string }): Promise<string> {
    const wanted = this.options.accel ?? process.env.LCOW_QEMU_ACCEL ?? 'auto';
    if (wanted !== 'auto') return Promise.resolve(wanted);
    this.accelPromise ??= (async () => {
      const b = boot ?? (await this.agentBoot());
      if (!('initrdPath' in b)) throw new Error('unreachable: defaultBoot gives kernel+initrd');
      const binary = this.qemuBinary();
      const verdict = await chooseAccel({
        memoFile: path.join(cacheRoot(), 'accel.json'),
        context: await qemuContext(findProgram(binary) ?? binary),
        tryKvm: () => this.bootsWithKvm(b.kernelPath, b.initrdPath),
      });
      componentLogger(this.options.logger, 'qemu-backend').info({ ...verdict }, 'accelerator chosen');
      return verdict.accel;
    })().catch((err: unknown) => {
      this.accelPromise = undefined; // e.g. the guest image could not be built: try again next time
      throw err;
    });
    return this.accelPromise;
  }

  private qemuBinary(): string {
    return this.options.qemuBinary ?? process.env.LCOW_QEMU_BINARY ?? 'qemu-system-x86_64';
  }

  /** A throw-away VM with KVM: did it reach its guest agent in time? Always gone afterwards. */
  private async bootsWithKvm(kernelPath: string, initrdPath: string): Promise<boolean> {
    const spec: VmSpec = {
      id: `accel-probe-${process.pid}-${++probeSerial}`,
      memoryMiB: 256,
      cpus: 1,
      boot: { kind: 'kernel-initrd', kernelPath, initrdPath },
      scsiControllers: 1,
      vpmem: { count: 0, maxSizeBytes: 4096 },
    };
    const vm = new QemuVm(spec, {
      qemuBinary: this.qemuBinary(),
      accel: 'kvm',
      kernelPath,
      initrdPath,
      startTimeoutMs: KVM_PROBE_TIMEOUT_MS,
      stopGraceMs: 1_000,
      logger: this.options.logger,
    });
    try {
      await vm.start();
      return true;
    } catch {
      return false;
    } finally {
      await vm.terminate().catch(() => undefined);
    }
  }
}
