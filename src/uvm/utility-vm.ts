/**
 * The UtilityVM: one backend VM, its single owner, and the managers that
 * hand out its SCSI slots, VPMEM devices, guest mount points and unions.
 *
 * Lifecycle: created → starting → running → stopping → stopped. start() once;
 * terminate() is idempotent. Whenever the backend VM exits — terminated by us
 * or on its own — the UVM reports 'stopped' and every manager call fails fast
 * with EVMSTOPPED, while releases succeed without touching the (gone) VM.
 */
import { LcowError } from '../errors.js';
import {
  selectBackend,
  type ExecOptions,
  type ExecResult,
  type HypervisorBackend,
  type VmExitInfo,
  type VmHandle,
  type VmSpec,
  type VmState,
} from '../backend/index.js';
import { componentLogger, type Logger } from '../log.js';
import { nodeHostFiles } from './host-files.js';
import { addReadOnlyLayer, type LayerMount } from './layers.js';
import { MountPoints } from './mount-points.js';
import { Orphans } from './orphans.js';
import { resolveOptions, type ResolvedOptions, type UtilityVMOptions } from './options.js';
import { AttachManager } from './scsi/attach-manager.js';
import { ScsiManager } from './scsi/manager.js';
import { MountManager } from './scsi/mount-manager.js';
import { UnionManager } from './union.js';
import { VmGuard } from './vm-guard.js';
import { VpmemManager } from './vpmem/manager.js';

export type UvmState = VmState;

export async function createUtilityVM(options: UtilityVMOptions): Promise<UtilityVM> {
  const backend = options.backend ?? (await selectBackend('auto'));
  const resolved = resolveOptions({ ...options, backend });
  const logger = componentLogger(options.logger, 'uvm', { vmId: resolved.id });
  const spec: VmSpec = {
    id: resolved.id,
    memoryMiB: resolved.memoryMiB,
    cpus: resolved.cpus,
    boot: options.boot ?? (await backend.defaultBoot()),
    kernelArgs: options.kernelArgs,
    scsiControllers: resolved.scsiControllers,
    vpmem: resolved.vpmem,
    operationTimeoutMs: options.operationTimeoutMs,
  };
  const vm = await backend.createVm(spec, { logger });
  return new UtilityVM(vm, backend, resolved, options, logger);
}

export class UtilityVM {
  readonly id: string;
  readonly options: Readonly<ResolvedOptions>;
  readonly scsi: ScsiManager;
  readonly vpmem: VpmemManager;
  readonly unions: UnionManager;
  readonly logger: Logger;
  /** Half-made resources whose rollback failed (see orphans.ts). */
  readonly orphans = new Orphans();
  private readonly guard: VmGuard;
  /** Every guest mount point of this VM; private, so nothing can free a path a mount still holds. */
  private readonly mountPoints: MountPoints;
  private current: UvmState = 'created';
  private exit: Promise<VmExitInfo> | undefined;

  /** Use createUtilityVM(). */
  constructor(
    private readonly vm: VmHandle,
    backend: Pick<HypervisorBackend, 'limits' | 'capabilities'>,
    resolved: ResolvedOptions,
    options: Pick<UtilityVMOptions, 'hostFiles'>,
    logger: Logger,
  ) {
    this.id = resolved.id;
    this.options = resolved;
    this.logger = logger;
    this.guard = new VmGuard(this.id);
    this.mountPoints = new MountPoints(this.id);
    const guarded = this.guardedOps();
    this.scsi = new ScsiManager(
      new AttachManager({
        vmId: this.id,
        attacher: guarded,
        unplugger: guarded,
        guard: this.guard,
        controllers: resolved.scsiControllers,
        lunsPerController: backend.limits.lunsPerController,
      }),
      new MountManager(guarded, this.mountPoints, this.guard),
      this.orphans,
    );
    this.vpmem = new VpmemManager({
      vmId: this.id,
      host: guarded,
      mounter: guarded,
      hostFiles: options.hostFiles ?? nodeHostFiles,
      paths: this.mountPoints,
      guard: this.guard,
      orphans: this.orphans,
      unplug: backend.capabilities.vpmemUnplug,
      mapped: backend.capabilities.vpmemMapped,
      ...resolved.vpmem,
    });
    this.unions = new UnionManager(this.id, guarded, this.mountPoints, this.guard);
  }

  /** Guest mount points claimed now (layers, scratches, unions), for diagnostics and leak checks. */
  mountPointsInUse(): string[] {
    return this.mountPoints.inUse();
  }

  get state(): UvmState {
    return this.current;
  }

  async start(): Promise<void> {
    if (this.current !== 'created') {
      throw new LcowError('EINVAL', `utility VM ${this.id} cannot start from state ${this.current}`, { vmId: this.id, state: this.current });
    }
    this.current = 'starting';
    void this.watchExit();
    try {
      await this.vm.start();
    } catch (err) {
      this.logger.warn({ err }, 'start failed; terminating');
      await this.vm.terminate().catch(() => undefined);
      this.markStopped();
      throw err;
    }
    if (this.current === 'starting') this.current = 'running';
    this.logger.debug('running');
  }

  /** Stop the VM now. Idempotent; resolves once it has stopped. */
  async terminate(): Promise<void> {
    if (this.current === 'stopped') return;
    this.current = 'stopping';
    this.guard.stop(); // managers fail fast from here on
    void this.watchExit();
    await this.vm.terminate();
    this.markStopped();
  }

  /** Resolves when the VM has stopped, for whatever reason. */
  waitExit(): Promise<VmExitInfo> {
    return this.watchExit();
  }

  /** Run a process in the guest from an argv array (never a shell string). Resolves with any exit code. */
  async exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
      throw new LcowError('EINVAL', 'exec needs a non-empty argv array of strings', { vmId: this.id });
    }
    this.assertUsable('exec');
    return this.guard.do('exec', () => this.vm.exec(argv, options));
  }

  /** A read-only layer: VPMEM first, SCSI when VPMEM refuses (see layers.ts). */
  async addLayer(hostPath: string): Promise<LayerMount> {
    this.assertUsable('addLayer');
    return addReadOnlyLayer(this, hostPath);
  }

  /** Retry the undo of resources whose rollback failed; rejects with the first failure. */
  releaseOrphans(): Promise<void> {
    return this.orphans.retry();
  }

  /** Backend properties (pid, state) for diagnostics. */
  properties(): ReturnType<VmHandle['properties']> {
    return this.vm.properties();
  }

  private assertUsable(operation: string): void {
    if (this.guard.stopped || this.current === 'stopped') throw this.guard.stoppedError(operation);
    if (this.current !== 'running') {
      throw new LcowError('EINVAL', `utility VM ${this.id} is ${this.current}, not running`, { vmId: this.id, state: this.current, operation });
    }
  }

  /**
   * The one wait on the backend's exit, made when the VM starts (or is
   * terminated unstarted). Backends resolve waitExit; should one reject, the
   * VM counts as stopped all the same, the failure is logged here and
   * reaches whoever awaits waitExit(), never an unhandled rejection.
   */
  private watchExit(): Promise<VmExitInfo> {
    if (!this.exit) {
      const exit = this.vm.waitExit().then(
        (info) => {
          if (this.current !== 'stopped') this.logger.info({ exit: info }, 'VM stopped');
          this.markStopped();
          return info;
        },
        (err: unknown) => {
          this.logger.warn({ err }, 'waiting for the VM to exit failed; treating it as stopped');
          this.markStopped();
          throw err;
        },
      );
      exit.catch(() => undefined); // observed here; callers of waitExit() still see the rejection
      this.exit = exit;
    }
    return this.exit;
  }

  private markStopped(): void {
    this.guard.stop();
    this.current = 'stopped';
  }

  /**
   * The backend ops the managers get. Every call first checks that the VM is
   * running (a manager used before start() gets EINVAL, after exit EVMSTOPPED).
   */
  private guardedOps(): VmHandle {
    const vm = this.vm;
    const check = (op: string): void => this.assertUsable(op);
    return {
      get id() {
        return vm.id;
      },
      get state() {
        return vm.state;
      },
      start: () => vm.start(),
      terminate: () => vm.terminate(),
      waitExit: () => vm.waitExit(),
      properties: () => vm.properties(),
      addScsiDisk: async (c, l, d) => (check('addScsiDisk'), vm.addScsiDisk(c, l, d)),
      removeScsiDisk: (c, l) => vm.removeScsiDisk(c, l),
      addVpmemDevice: async (s, d) => (check('addVpmemDevice'), vm.addVpmemDevice(s, d)),
      removeVpmemDevice: (s) => vm.removeVpmemDevice(s),
      addVpmemMapping: async (s, o, d) => (check('addVpmemMapping'), vm.addVpmemMapping(s, o, d)),
      removeVpmemMapping: (s, o) => vm.removeVpmemMapping(s, o),
      mountScsi: async (r) => (check('mountScsi'), vm.mountScsi(r)),
      mountVpmem: async (r) => (check('mountVpmem'), vm.mountVpmem(r)),
      unmount: (p) => vm.unmount(p),
      unplugScsi: (c, l) => vm.unplugScsi(c, l),
      combineLayers: async (r) => (check('combineLayers'), vm.combineLayers(r)),
      removeCombinedLayers: (t) => vm.removeCombinedLayers(t),
      exec: (a, o) => vm.exec(a, o),
    };
  }
}
