/**
 * A fake VM: every VmHandle operation, carried out instantly on in-memory
 * state, with the checks a real VM would make (slots in range and free, a
 * device present before it is mounted, nothing unmounted while an overlay
 * uses it, the overlay's one-page mount data limit). Protocol slips that a
 * real VM would tolerate but that uvm/ must not make — removing a disk the
 * guest still has, a device still mounted — are recorded in `violations`.
 */
import { LcowError } from '../../errors.js';
import { VPMEM_ADDED, vpmemRefused, type BackendCapabilities, type BackendLimits, type VpmemAddResult } from '../contract.js';
import type {
  CombineLayersRequest,
  DiskAttachment,
  ExecOptions,
  ExecResult,
  ScsiMountRequest,
  VmExitInfo,
  VmHandle,
  VmProperties,
  VmSpec,
  VmState,
  VpmemAttachment,
  VpmemMountRequest,
} from '../types.js';
import type { FakeDisks, FakeDisk } from './disks.js';
import { runFakeProgram } from './exec.js';
import { Faults, type FakeOp } from './faults.js';
import { GuestFs, guestError, type TreeLoc } from './guest-fs.js';

export interface FakeCall {
  op: FakeOp;
  args: readonly unknown[];
}

interface ScsiSlot {
  disk: FakeDisk;
  readOnly: boolean;
  /** Seen by the guest (until unplugScsi). */
  present: boolean;
}

/** The kernel's limit on mount data: one page including the NUL. */
const MOUNT_DATA_MAX = 4095;

export class FakeVm implements VmHandle {
  readonly id: string;
  readonly faults = new Faults();
  readonly calls: FakeCall[] = [];
  readonly violations: string[] = [];
  readonly guest = new GuestFs();
  /** `${controller}:${lun}` → attached disk. */
  readonly scsi = new Map<string, ScsiSlot>();
  readonly vpmem = new Map<number, FakeDisk>();
  /** Mapped VPMEM: slot → offset → the file mapped there and its size. */
  readonly vpmemMappings = new Map<number, Map<number, { disk: FakeDisk; sizeBytes: number }>>();
  /**
   * With vpmemUnplug 'same-file-only': a removed slot → the disk it still
   * maps. Only that disk may have it back, as with QEMU: the same path
   * defined anew (a file replaced on disk) is another file.
   */
  private readonly retiredVpmem = new Map<number, FakeDisk>();
  private current: VmState = 'created';
  private exitInfo: VmExitInfo | undefined;
  private resolveExit!: (info: VmExitInfo) => void;
  private readonly exited: Promise<VmExitInfo>;

  constructor(
    readonly spec: VmSpec,
    private readonly disks: FakeDisks,
    private readonly contract: { readonly limits: BackendLimits; readonly capabilities: BackendCapabilities },
  ) {
    this.id = spec.id;
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  get state(): VmState {
    return this.current;
  }

  // ---- test controls -------------------------------------------------------

  /** The hypervisor process dies: pending and later calls reject EVMSTOPPED. */
  kill(detail = 'killed by test'): void {
    this.stopWith({ reason: 'killed', detail });
  }

  /** The guest shuts down or panics on its own. */
  exitFromGuest(detail = 'guest exited'): void {
    this.stopWith({ reason: 'exited', detail });
  }

  /** Calls of one operation, in order. */
  callsOf(op: FakeOp): readonly unknown[][] {
    return this.calls.filter((c) => c.op === op).map((c) => [...c.args]);
  }

  // ---- lifecycle -----------------------------------------------------------

  start(): Promise<void> {
    return this.op(
      'start',
      [],
      () => {
        if (this.current !== 'created') throw new LcowError('EVMSTART', `fake VM ${this.id} is ${this.current}`, { vmId: this.id });
        this.current = 'running';
      },
      { whenCreated: true },
    );
  }

  async terminate(): Promise<void> {
    this.calls.push({ op: 'terminate', args: [] });
    if (this.current === 'stopped') return;
    await this.faults.check('terminate', []);
    this.stopWith({ reason: 'terminated' });
  }

  waitExit(): Promise<VmExitInfo> {
    return this.exited;
  }

  async properties(): Promise<VmProperties> {
    return { id: this.id, state: this.current, backend: 'fake', memoryMiB: this.spec.memoryMiB, cpus: this.spec.cpus };
  }

  // ---- host ----------------------------------------------------------------

  addScsiDisk(controller: number, lun: number, disk: DiskAttachment): Promise<void> {
    return this.op('addScsiDisk', [controller, lun, disk], () => {
      this.checkScsiAddress(controller, lun);
      const key = `${controller}:${lun}`;
      if (this.scsi.has(key)) throw new LcowError('EEXIST', `SCSI ${key} is occupied`, { vmId: this.id, controller, lun });
      this.scsi.set(key, { disk: this.disks.get(disk.hostPath), readOnly: disk.readOnly, present: true });
    });
  }

  removeScsiDisk(controller: number, lun: number): Promise<void> {
    return this.op('removeScsiDisk', [controller, lun], () => {
      const key = `${controller}:${lun}`;
      const slot = this.scsi.get(key);
      if (!slot) throw new LcowError('ENOTFOUND', `nothing at SCSI ${key}`, { vmId: this.id, controller, lun });
      if (slot.present) this.violations.push(`removeScsiDisk ${key} before the guest unplugged it`);
      if (this.mountedDevice(`scsi:${key}`)) this.violations.push(`removeScsiDisk ${key} while mounted`);
      this.scsi.delete(key);
    });
  }

  addVpmemDevice(slot: number, device: VpmemAttachment): Promise<VpmemAddResult> {
    return this.op('addVpmemDevice', [slot, device], async () => {
      if (!Number.isInteger(slot) || slot < 0 || slot >= this.spec.vpmem.count) {
        throw new LcowError('EINVAL', `VPMEM slot ${slot} out of range`, { vmId: this.id, slot, count: this.spec.vpmem.count });
      }
      if (this.vpmem.has(slot)) throw new LcowError('EEXIST', `VPMEM ${slot} is occupied`, { vmId: this.id, slot });
      const held = this.retiredVpmem.get(slot);
      const disk = this.disks.get(device.hostPath);
      if (held !== undefined && held !== disk) return vpmemRefused('slot-held', `VPMEM ${slot} still maps ${held.hostPath}`);
      if (held === undefined) {
        if (disk.pmemUnsuitable) return vpmemRefused('unsuitable', `${device.hostPath} cannot back a VPMEM device`);
        const size = await this.disks.size(device.hostPath).catch(() => 0);
        if (size > this.spec.vpmem.maxSizeBytes) return vpmemRefused('too-large', `${device.hostPath} (${size} bytes) is larger than a VPMEM device`);
      }
      this.retiredVpmem.delete(slot);
      this.vpmem.set(slot, disk);
      return VPMEM_ADDED;
    });
  }

  removeVpmemDevice(slot: number): Promise<void> {
    return this.op('removeVpmemDevice', [slot], () => {
      const disk = this.vpmem.get(slot);
      if (!disk) throw new LcowError('ENOTFOUND', `nothing at VPMEM ${slot}`, { vmId: this.id, slot });
      if (this.mountedDevice(`pmem:${slot}`)) this.violations.push(`removeVpmemDevice ${slot} while mounted`);
      this.vpmem.delete(slot);
      if (this.contract.capabilities.vpmemUnplug === 'same-file-only') this.retiredVpmem.set(slot, disk);
    });
  }

  addVpmemMapping(slot: number, offsetBytes: number, device: VpmemAttachment): Promise<VpmemAddResult> {
    return this.op('addVpmemMapping', [slot, offsetBytes, device], async () => {
      if (!this.contract.capabilities.vpmemMapped) throw new LcowError('EUNSUPPORTED', 'this fake backend maps one file per VPMEM device', { vmId: this.id });
      const { count, maxSizeBytes } = this.spec.vpmem;
      if (!Number.isInteger(slot) || slot < 0 || slot >= count)
        throw new LcowError('EINVAL', `VPMEM slot ${slot} out of range`, { vmId: this.id, slot, count });
      if (this.vpmem.has(slot)) throw new LcowError('EEXIST', `VPMEM ${slot} holds a whole-device file`, { vmId: this.id, slot });
      const disk = this.disks.get(device.hostPath);
      if (disk.pmemUnsuitable) return vpmemRefused('unsuitable', `${device.hostPath} cannot back a VPMEM device`);
      const size = await this.disks.size(device.hostPath).catch(() => 0);
      if (size > maxSizeBytes) return vpmemRefused('too-large', `${device.hostPath} (${size} bytes) is larger than a VPMEM device`);
      const sizeBytes = Math.ceil(size / 4096) * 4096;
      if (offsetBytes % 4096 !== 0 || offsetBytes + sizeBytes > maxSizeBytes) {
        throw new LcowError('EINVAL', `mapping ${offsetBytes}+${sizeBytes} does not fit VPMEM ${slot} (${maxSizeBytes} bytes, page-aligned)`, {
          vmId: this.id,
          slot,
          offsetBytes,
        });
      }
      const maps = this.vpmemMappings.get(slot) ?? new Map<number, { disk: FakeDisk; sizeBytes: number }>();
      for (const [o, m] of maps) {
        if (offsetBytes < o + m.sizeBytes && o < offsetBytes + sizeBytes)
          this.violations.push(`addVpmemMapping ${slot}@${offsetBytes} overlaps the mapping at ${o}`);
      }
      maps.set(offsetBytes, { disk, sizeBytes });
      this.vpmemMappings.set(slot, maps);
      return VPMEM_ADDED;
    });
  }

  removeVpmemMapping(slot: number, offsetBytes: number): Promise<void> {
    return this.op('removeVpmemMapping', [slot, offsetBytes], () => {
      const maps = this.vpmemMappings.get(slot);
      if (!maps?.has(offsetBytes)) throw new LcowError('ENOTFOUND', `VPMEM ${slot} maps nothing at ${offsetBytes}`, { vmId: this.id, slot, offsetBytes });
      if (this.mountedDevice(`pmem:${slot}@${offsetBytes}`)) this.violations.push(`removeVpmemMapping ${slot}@${offsetBytes} while mounted`);
      maps.delete(offsetBytes);
      if (maps.size === 0) this.vpmemMappings.delete(slot);
    });
  }

  // ---- guest ---------------------------------------------------------------

  mountScsi(req: ScsiMountRequest): Promise<void> {
    return this.op('mountScsi', [req], () => {
      const key = `${req.controller}:${req.lun}`;
      const slot = this.scsi.get(key);
      if (!slot?.present) throw guestError('EGUEST', `no SCSI device ${key} in the guest`, { vmId: this.id, controller: req.controller, lun: req.lun });
      if (slot.readOnly && !req.readOnly) throw guestError('EGUEST', `SCSI ${key} is read-only; cannot mount it read-write`, { vmId: this.id, errno: 'EROFS' });
      this.mountAt(req.guestPath, { kind: 'disk', device: `scsi:${key}`, tree: slot.disk.tree, readOnly: req.readOnly });
    });
  }

  mountVpmem(req: VpmemMountRequest): Promise<void> {
    return this.op('mountVpmem', [req], () => {
      if (req.mapping) {
        const m = this.vpmemMappings.get(req.slot)?.get(req.mapping.offsetBytes);
        if (!m || m.sizeBytes !== req.mapping.sizeBytes) {
          throw guestError('EGUEST', `no mapping ${req.mapping.offsetBytes}+${req.mapping.sizeBytes} on pmem${req.slot}`, { vmId: this.id, slot: req.slot });
        }
        this.mountAt(req.guestPath, { kind: 'disk', device: `pmem:${req.slot}@${req.mapping.offsetBytes}`, tree: m.disk.tree, readOnly: true });
        return;
      }
      const disk = this.vpmem.get(req.slot);
      if (!disk) throw guestError('EGUEST', `no pmem${req.slot} in the guest`, { vmId: this.id, slot: req.slot });
      this.mountAt(req.guestPath, { kind: 'disk', device: `pmem:${req.slot}`, tree: disk.tree, readOnly: true });
    });
  }

  unmount(guestPath: string): Promise<void> {
    return this.op('unmount', [guestPath], () => this.unmountAt(guestPath, 'disk'));
  }

  unplugScsi(controller: number, lun: number): Promise<void> {
    return this.op('unplugScsi', [controller, lun], () => {
      const key = `${controller}:${lun}`;
      const slot = this.scsi.get(key);
      if (!slot?.present) throw guestError('ENOTFOUND', `no SCSI device ${key} in the guest`, { vmId: this.id, controller, lun });
      if (this.mountedDevice(`scsi:${key}`)) throw guestError('EBUSY', `SCSI ${key} is still mounted`, { vmId: this.id, controller, lun });
      slot.present = false;
    });
  }

  combineLayers(req: CombineLayersRequest): Promise<void> {
    return this.op('combineLayers', [req], () => {
      const data = `lowerdir=${req.lowerDirs.join(':')}${req.upperDir === undefined ? '' : `,upperdir=${req.upperDir},workdir=${req.workDir}`}`;
      if (Buffer.byteLength(data) > MOUNT_DATA_MAX)
        throw guestError('EGUEST', 'overlay mount data exceeds one page', { vmId: this.id, errno: 'EINVAL', bytes: Buffer.byteLength(data) });
      if (req.upperDir === undefined && req.lowerDirs.length < 2)
        throw guestError('EGUEST', 'overlay: at least 2 lowerdir are needed while upperdir nonexistent', { vmId: this.id, errno: 'EINVAL' });
      const sources: string[] = [];
      const lowers: TreeLoc[] = req.lowerDirs.map((d) => {
        const l = this.guest.locate(d);
        sources.push(l.mountPath);
        return l.loc;
      });
      let upper: TreeLoc | undefined;
      if (req.upperDir !== undefined && req.workDir !== undefined) {
        // Like the guest agent: create upper and work on the scratch (mode 0755) if missing.
        this.guest.mkdirp(req.upperDir);
        this.guest.mkdirp(req.workDir);
        const u = this.guest.locate(req.upperDir);
        if (u.readOnly) throw guestError('EGUEST', `${req.upperDir} is on a read-only mount`, { vmId: this.id, errno: 'EROFS' });
        sources.push(u.mountPath, this.guest.locate(req.workDir).mountPath);
        upper = u.loc;
      }
      this.mountAt(req.target, { kind: 'overlay', lowers, upper, readOnly: upper === undefined, data, sources });
    });
  }

  removeCombinedLayers(target: string): Promise<void> {
    return this.op('removeCombinedLayers', [target], () => this.unmountAt(target, 'overlay'));
  }

  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return this.op('exec', [argv, options], () => runFakeProgram(argv, this.guest, options));
  }

  // ---- internals -----------------------------------------------------------

  private async op<T>(op: FakeOp, args: unknown[], body: () => T | Promise<T>, opts: { whenCreated?: boolean } = {}): Promise<T> {
    this.calls.push({ op, args });
    this.assertState(op, opts.whenCreated ?? false);
    const stopped = this.exited.then((): never => {
      throw this.stoppedError(op);
    });
    stopped.catch(() => undefined);
    await Promise.race([this.faults.check(op, args), stopped]);
    this.assertState(op, opts.whenCreated ?? false);
    return body();
  }

  private assertState(op: FakeOp, whenCreated: boolean): void {
    if (this.current === 'stopped' || this.current === 'stopping') throw this.stoppedError(op);
    if (this.current !== 'running' && !whenCreated) throw new LcowError('EINVAL', `fake VM ${this.id} is ${this.current}`, { vmId: this.id, op });
  }

  private stoppedError(op: string): LcowError {
    return new LcowError('EVMSTOPPED', `fake VM ${this.id} has stopped`, { vmId: this.id, op, exit: this.exitInfo });
  }

  private stopWith(info: VmExitInfo): void {
    if (this.current === 'stopped') return;
    this.current = 'stopped';
    this.exitInfo = info;
    this.guest.mounts.clear();
    this.scsi.clear();
    this.vpmem.clear();
    this.vpmemMappings.clear();
    this.resolveExit(info);
  }

  private checkScsiAddress(controller: number, lun: number): void {
    if (
      !Number.isInteger(controller) ||
      controller < 0 ||
      controller >= this.spec.scsiControllers ||
      !Number.isInteger(lun) ||
      lun < 0 ||
      lun >= this.contract.limits.lunsPerController
    ) {
      throw new LcowError('EINVAL', `SCSI ${controller}:${lun} out of range`, { vmId: this.id, controller, lun, controllers: this.spec.scsiControllers });
    }
  }

  private mountedDevice(device: string): boolean {
    return [...this.guest.mounts.values()].some((m) => m.kind === 'disk' && m.device === device);
  }

  private mountAt(guestPath: string, rec: Parameters<GuestFs['mounts']['set']>[1]): void {
    if (!guestPath.startsWith('/')) throw guestError('EINVAL', `${guestPath} is not absolute`, { vmId: this.id, guestPath });
    if (this.guest.mounts.has(guestPath)) throw guestError('EBUSY', `something is already mounted at ${guestPath}`, { vmId: this.id, guestPath });
    this.guest.mkdirp(guestPath);
    this.guest.mounts.set(guestPath, rec);
  }

  private unmountAt(guestPath: string, kind: 'disk' | 'overlay'): void {
    const rec = this.guest.mounts.get(guestPath);
    if (!rec || rec.kind !== kind) throw guestError('ENOTFOUND', `no ${kind} mount at ${guestPath}`, { vmId: this.id, guestPath });
    const busy = this.guest.busyReason(guestPath);
    if (busy) throw guestError('EBUSY', `${guestPath} is busy: ${busy}`, { vmId: this.id, guestPath });
    this.guest.mounts.delete(guestPath);
    // Like the backends: the now-empty mount point goes too (in whatever holds it).
    try {
      this.guest.remove(guestPath);
    } catch {
      // a mount point on a read-only parent stays; harmless
    }
  }
}
