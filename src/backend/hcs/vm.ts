/**
 * One LCOW utility VM as an HCS compute system.
 *
 * Host side: HcsCreate/Start/Terminate/ModifyComputeSystem through the
 * OperationRunner, HcsGrantVmAccess before every attach. Guest side: every
 * guest operation and every process is a request to the VM's GCS, over the
 * GuestLink made before start and connected after it (guest-connection.ts;
 * by default hvsockets, guest-link.ts). HCS's own process API is not used:
 * hcsshim never runs a process in an LCOW UVM through it.
 *
 * Exit: a SystemExited (or ServiceDisconnect) event marks the VM stopped,
 * settles waitExit(), and rejects every call still pending with EVMSTOPPED.
 */
import { setMaxListeners } from 'node:events';
import fs from 'node:fs/promises';
import type { Logger } from '../../log.js';
import { LcowError, isLcowError } from '../../errors.js';
import { VPMEM_ADDED, vpmemRefused, type VpmemAddResult } from '../contract.js';
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
import { GcsGuestOps } from '../gcs/index.js';
import * as documents from './documents/index.js';
import type { GuestConnection, GuestConnectionTarget, GuestLink, GuestLinkFactory } from './guest-connection.js';
import { hresultError, failed } from './hresult.js';
import { callAsync } from './native/call-async.js';
import { eventRouter, type HcsEvent } from './native/callbacks.js';
import { HCS_EVENT_OPTION_NONE, HcsEventType, type Handle } from './native/computecore.js';
import type { NativeHcs } from './native/load.js';
import { settlesWithin, type OperationRunner } from './operation.js';

export interface HcsVmDeps {
  native: NativeHcs;
  runner: OperationRunner;
  /** Made before HcsStartComputeSystem, connected after it. */
  guest: GuestLinkFactory;
  logger: Logger;
  /** Per-operation limit for create/start/modify (default 4 min, hcsshim's create/start timeout). */
  timeoutMs?: number;
}

export class HcsVm implements VmHandle {
  readonly id: string;
  private stateValue: VmState = 'created';
  private system: Handle | null = null;
  private readonly eventId: bigint;
  /** HCS's RuntimeId: the VM's GUID, the VmId of its hvsock addresses. */
  private runtimeIdValue: string | undefined;
  private link: GuestLink | undefined;
  private connection: GuestConnection | undefined;
  /** Mounts, overlays and unplugs as GCS requests, carried by the guest connection. */
  private readonly gcs: GcsGuestOps;
  /** Mapped VPMEM: the offsets each device maps a file at (the first creates the device, the last removes it). */
  private readonly vpmemMappings = new Map<number, Set<number>>();
  private readonly exitInfo: Promise<VmExitInfo>;
  private settleExit!: (info: VmExitInfo) => void;
  /** Rejects (with EVMSTOPPED) when the VM stops; raced against every pending call. */
  private readonly stopped: Promise<never>;
  private rejectStopped!: (err: LcowError) => void;
  private terminating = false;
  private readonly timeoutMs: number;
  /** Aborted on exit: operations still pending are cancelled rather than left to their timeout. */
  /**
   * Aborted when the VM stops: every pending operation listens to it, so
   * there is one listener per operation in flight (64 parallel SCSI adds are
   * normal) — not a leak; Node's warning past 10 is turned off for it.
   */
  private readonly onStop = unlimitedAbortController();
  /** The handle close started by markStopped; terminate() resolves only after it. */
  private closing: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: VmSpec,
    readonly document: documents.ComputeSystemDocument,
    private readonly deps: HcsVmDeps,
  ) {
    this.id = spec.id;
    this.timeoutMs = deps.timeoutMs ?? spec.operationTimeoutMs ?? 240_000;
    this.exitInfo = new Promise((resolve) => (this.settleExit = resolve));
    this.stopped = new Promise<never>((_, reject) => (this.rejectStopped = reject));
    this.stopped.catch(() => {}); // observed through whileRunning only
    this.eventId = eventRouter().add((e) => this.onEvent(e));
    this.gcs = new GcsGuestOps(this.id, (request) => {
      this.requireRunningHandle();
      return this.whileRunning(this.requireConnection().modify(request));
    });
  }

  get state(): VmState {
    return this.stateValue;
  }

  /** HCS's RuntimeId of the VM (known once created). */
  get runtimeId(): string | undefined {
    return this.runtimeIdValue;
  }

  /** HcsCreateComputeSystem, the system event callback, the RuntimeId. Called by HcsBackend.createVm. */
  async create(): Promise<void> {
    const { cc } = this.deps.native;
    const out: [Handle | null] = [null];
    const config = JSON.stringify(this.document);
    try {
      await this.deps.runner.run('HcsCreateComputeSystem', (op) => callAsync(cc.HcsCreateComputeSystem, this.id, config, op, null, out), {
        timeoutMs: this.timeoutMs,
        context: { vmId: this.id },
      });
    } catch (err) {
      if (out[0]) await callAsync(cc.HcsCloseComputeSystem, out[0]);
      eventRouter().delete(this.eventId);
      throw err;
    }
    this.system = out[0];
    if (!this.system) throw new LcowError('EHCS', 'HcsCreateComputeSystem gave no handle', { vmId: this.id });
    const hr = await callAsync(cc.HcsSetComputeSystemCallback, this.system, HCS_EVENT_OPTION_NONE, this.eventId, eventRouter().pointer);
    if (failed(hr)) {
      await this.closeHandle();
      throw hresultError(hr, 'HcsSetComputeSystemCallback', { vmId: this.id });
    }
    try {
      this.runtimeIdValue = await this.readRuntimeId(this.system);
    } catch (err) {
      await this.closeHandle(); // never started: closing the last handle tears the system down
      throw err;
    }
  }

  /** As hcsshim's create: the VM GUID from the system's properties, before anything listens on it. */
  private async readRuntimeId(system: Handle): Promise<string> {
    const { document } = await this.deps.runner.run(
      'HcsGetComputeSystemProperties',
      (op) => callAsync(this.deps.native.cc.HcsGetComputeSystemProperties, system, op, null),
      { timeoutMs: this.timeoutMs, context: { vmId: this.id } },
    );
    let runtimeId: unknown;
    try {
      runtimeId = (JSON.parse(document ?? '{}') as { RuntimeId?: unknown }).RuntimeId;
    } catch {
      runtimeId = undefined;
    }
    if (typeof runtimeId !== 'string' || !runtimeId) {
      throw new LcowError('EHCS', 'HcsGetComputeSystemProperties gave no RuntimeId', { vmId: this.id, operation: 'HcsGetComputeSystemProperties', document });
    }
    return runtimeId;
  }

  /**
   * hcsshim's order: the guest link first (the default listens on the VM's hvsockets, which its init
   * dials at boot), then HcsStartComputeSystem, then the connection. A VM whose guest does not
   * connect is terminated, and start rejects with why.
   */
  async start(): Promise<void> {
    if (this.stateValue !== 'created') throw new LcowError('EINVAL', `cannot start a VM in state ${this.stateValue}`, { vmId: this.id });
    const system = this.requireHandle();
    this.stateValue = 'starting';
    let link: GuestLink;
    try {
      link = await this.deps.guest(this.target());
    } catch (err) {
      this.stateValue = 'created';
      throw err;
    }
    this.link = link;
    try {
      await this.op('HcsStartComputeSystem', (op) => callAsync(this.deps.native.cc.HcsStartComputeSystem, system, op, null));
    } catch (err) {
      this.link = undefined;
      await link.close();
      if (this.stateValue === 'starting') this.stateValue = 'created';
      throw err;
    }
    try {
      this.connection = await this.whileRunning(link.connect());
    } catch (err) {
      this.deps.logger.warn({ err }, 'the guest did not connect; terminating the VM');
      await this.terminate().catch((e: unknown) => this.deps.logger.warn({ err: e }, 'terminating a VM whose guest never connected failed'));
      throw err;
    }
    if (this.stateValue === 'starting') this.stateValue = 'running';
  }

  private target(): GuestConnectionTarget {
    if (!this.runtimeIdValue) throw new LcowError('EINVAL', `VM ${this.id} has no RuntimeId (not created)`, { vmId: this.id });
    return { vmId: this.id, runtimeId: this.runtimeIdValue, logger: this.deps.logger };
  }

  async terminate(): Promise<void> {
    if (this.stateValue === 'stopped' || this.terminating) {
      await this.exitInfo;
      await this.closing;
      return;
    }
    this.terminating = true;
    if (this.stateValue === 'created') {
      // Never started: closing the last handle tears it down (ShouldTerminateOnLastHandleClosed),
      // and no SystemExited event need be waited for.
      this.markStopped({ reason: 'terminated', detail: 'never started' });
      await this.closing;
      return;
    }
    this.stateValue = 'stopping';
    const system = this.requireHandle();
    await this.shutdownGuest();
    try {
      await this.deps.runner.run('HcsTerminateComputeSystem', (op) => callAsync(this.deps.native.cc.HcsTerminateComputeSystem, system, op, null), {
        timeoutMs: this.timeoutMs,
        context: { vmId: this.id },
      });
    } catch (err) {
      // Already gone is success for an idempotent terminate.
      if (!(isLcowError(err, 'EHCS') && err.context.name === 'HCS_E_SYSTEM_ALREADY_STOPPED')) {
        this.deps.logger.warn({ err }, 'terminate failed; waiting for the exit event anyway');
      }
    }
    // hcsshim treats Terminate as fire-and-forget and watches SystemExited; bound the wait.
    if (!(await settlesWithin(this.exitInfo, this.timeoutMs))) {
      this.markStopped({ reason: 'terminated', detail: 'no SystemExited event after terminate' });
    }
    await this.closing;
  }

  /**
   * ShutdownForced first (the order; the GCS powers the VM off at once, without a sync), then
   * HcsTerminateComputeSystem regardless, as hcsshim ends a UVM. Bounded: a request that cannot be
   * written must not hold the terminate up.
   */
  private async shutdownGuest(): Promise<void> {
    const c = this.connection;
    if (!c?.shutdownForced) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      c.shutdownForced().catch((err: unknown) => this.deps.logger.debug({ err }, 'ShutdownForced was not sent')),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FORCED_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  waitExit(): Promise<VmExitInfo> {
    return this.exitInfo;
  }

  async properties(): Promise<VmProperties> {
    const system = this.requireRunningHandle();
    await this.op('HcsGetComputeSystemProperties', (op) => callAsync(this.deps.native.cc.HcsGetComputeSystemProperties, system, op, null));
    const topo = this.document.VirtualMachine.ComputeTopology;
    return { id: this.id, state: this.stateValue, backend: 'hcs', memoryMiB: topo.Memory.SizeInMB, cpus: topo.Processor.Count };
  }

  // ---- host side ----

  async addScsiDisk(controller: number, lun: number, disk: DiskAttachment): Promise<void> {
    const request = documents.addScsiAttachment(controller, lun, disk.hostPath, disk.readOnly);
    await this.grantAccess(disk.hostPath);
    await this.modify(request);
  }

  removeScsiDisk(controller: number, lun: number): Promise<void> {
    return this.modify(documents.removeScsiAttachment(controller, lun));
  }

  async addVpmemDevice(slot: number, device: VpmemAttachment): Promise<VpmemAddResult> {
    const refused = await this.vpmemRefusal(slot, device);
    if (refused) return refused;
    const request = documents.addVpmemDevice(slot, device.hostPath, device.format);
    await this.grantAccess(device.hostPath);
    await this.modify(request);
    return VPMEM_ADDED;
  }

  /** Why HCS cannot take this file on a VPMEM device, before anything reaches HCS; a bad slot is EINVAL. */
  private async vpmemRefusal(slot: number, device: VpmemAttachment): Promise<VpmemAddResult | undefined> {
    const { count, maxSizeBytes } = this.spec.vpmem;
    if (slot >= count) throw new LcowError('EINVAL', `VPMEM slot ${slot} is past the ${count} devices of this VM`, { vmId: this.id, slot });
    if (documents.vpmemImageFormat(device.hostPath, device.format) === undefined) {
      return vpmemRefused('unsuitable', `${device.hostPath}: HCS VPMEM devices take VHD or VHDX images only`);
    }
    const size = (await fs.stat(device.hostPath).catch(() => undefined))?.size;
    if (size !== undefined && size > maxSizeBytes) {
      return vpmemRefused('too-large', `${device.hostPath} (${size} bytes) is larger than the VPMEM device maximum ${maxSizeBytes}`);
    }
    return undefined;
  }

  removeVpmemDevice(slot: number): Promise<void> {
    return this.modify(documents.removeVpmemDevice(slot));
  }

  async addVpmemMapping(slot: number, offsetBytes: number, device: VpmemAttachment): Promise<VpmemAddResult> {
    const refused = await this.vpmemRefusal(slot, device);
    if (refused) return refused;
    const offsets = this.vpmemMappings.get(slot) ?? new Set<number>();
    if (offsets.has(offsetBytes)) throw new LcowError('EEXIST', `VPMEM ${slot} already maps a file at ${offsetBytes}`, { vmId: this.id, slot, offsetBytes });
    const request = documents.addVpmemMapping(slot, offsetBytes, device.hostPath, device.format, offsets.size === 0);
    await this.grantAccess(device.hostPath);
    await this.modify(request);
    this.vpmemMappings.set(slot, offsets.add(offsetBytes));
    return VPMEM_ADDED;
  }

  async removeVpmemMapping(slot: number, offsetBytes: number): Promise<void> {
    const offsets = this.vpmemMappings.get(slot);
    if (!offsets?.has(offsetBytes)) throw new LcowError('ENOTFOUND', `VPMEM ${slot} maps nothing at ${offsetBytes}`, { vmId: this.id, slot, offsetBytes });
    await this.modify(documents.removeVpmemMapping(slot, offsetBytes, offsets.size === 1));
    offsets.delete(offsetBytes);
    if (offsets.size === 0) this.vpmemMappings.delete(slot);
  }

  // ---- guest side ----

  mountScsi(req: ScsiMountRequest): Promise<void> {
    return this.gcs.mountScsi(req);
  }

  mountVpmem(req: VpmemMountRequest): Promise<void> {
    return this.gcs.mountVpmem(req);
  }

  unmount(guestPath: string): Promise<void> {
    return this.gcs.unmount(guestPath);
  }

  unplugScsi(controller: number, lun: number): Promise<void> {
    return this.gcs.unplugScsi(controller, lun);
  }

  combineLayers(req: CombineLayersRequest): Promise<void> {
    return this.gcs.combineLayers(req);
  }

  removeCombinedLayers(target: string): Promise<void> {
    return this.gcs.removeCombinedLayers(target);
  }

  /** Through the GCS: ExecuteProcess, one WaitForProcess, stdio over the link's transport (../gcs process.ts). */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.requireRunningHandle();
    return this.whileRunning(this.requireConnection().exec(argv, options));
  }

  // ---- plumbing ----

  private async grantAccess(hostPath: string): Promise<void> {
    this.requireRunningHandle();
    const hr = await this.whileRunning(callAsync(this.deps.native.cc.HcsGrantVmAccess, this.id, hostPath));
    if (failed(hr)) throw hresultError(hr, 'HcsGrantVmAccess', { vmId: this.id, hostPath });
  }

  private async modify(request: documents.ModifySettingRequest): Promise<void> {
    const system = this.requireRunningHandle();
    const config = JSON.stringify(request);
    await this.op('HcsModifyComputeSystem', (op) => callAsync(this.deps.native.cc.HcsModifyComputeSystem, system, op, config, null), {
      resourcePath: request.ResourcePath,
      requestType: request.RequestType,
    });
  }

  private async op(name: string, start: (op: Handle) => Promise<number>, context: Record<string, unknown> = {}): Promise<void> {
    await this.whileRunning(
      this.deps.runner.run(name, start, { timeoutMs: this.timeoutMs, context: { vmId: this.id, ...context }, signal: this.onStop.signal }),
    );
  }

  /** A pending call rejects with EVMSTOPPED as soon as the VM stops; the native operation is still cleaned up by the runner. */
  private whileRunning<T>(p: Promise<T>): Promise<T> {
    p.catch(() => {});
    return Promise.race([p, this.stopped]);
  }

  private requireHandle(): Handle {
    if (!this.system) throw new LcowError('EVMSTOPPED', `VM ${this.id} has no compute system`, { vmId: this.id });
    return this.system;
  }

  private requireConnection(): GuestConnection {
    if (!this.connection) throw new LcowError('EINVAL', `VM ${this.id} has no guest connection`, { vmId: this.id });
    return this.connection;
  }

  private requireRunningHandle(): Handle {
    if (this.stateValue === 'stopped') throw new LcowError('EVMSTOPPED', `VM ${this.id} has stopped`, { vmId: this.id });
    if (this.stateValue !== 'running') throw new LcowError('EINVAL', `VM ${this.id} is not running (${this.stateValue})`, { vmId: this.id });
    return this.requireHandle();
  }

  /** Called on the main thread inside koffi's relay: record, then leave the rest to the event loop. */
  private onEvent(e: HcsEvent): void {
    if (e.type === HcsEventType.SystemExited) {
      setImmediate(() => this.markStopped({ reason: this.terminating ? 'terminated' : 'exited', ...(e.data ? { detail: e.data } : {}) }));
    } else if (e.type === HcsEventType.ServiceDisconnect) {
      setImmediate(() => this.markStopped({ reason: 'killed', detail: 'HCS service disconnected' }));
    } else {
      this.deps.logger.debug({ type: e.type, data: e.data }, 'hcs event');
    }
  }

  private markStopped(info: VmExitInfo): void {
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'stopped';
    this.rejectStopped(new LcowError('EVMSTOPPED', `VM ${this.id} stopped (${info.reason})`, { vmId: this.id, ...info }));
    this.settleExit(info);
    this.onStop.abort();
    this.connection?.stop?.(`VM ${this.id} stopped (${info.reason})`);
    const link = this.link;
    this.link = undefined;
    this.closing = Promise.all([
      this.closeHandle().catch((err: unknown) => this.deps.logger.warn({ err }, 'closing the compute system failed')),
      link?.close().catch((err: unknown) => this.deps.logger.warn({ err }, 'closing the guest link failed')),
    ]).then(() => undefined);
  }

  /** Close asynchronously: a sync close on the main thread could wait on a callback koffi needs that thread for. */
  private async closeHandle(): Promise<void> {
    const system = this.system;
    this.system = null;
    eventRouter().delete(this.eventId);
    if (system) await callAsync(this.deps.native.cc.HcsCloseComputeSystem, system);
  }
}

/** How long terminate waits for ShutdownForced to be written before HcsTerminateComputeSystem. */
const SHUTDOWN_FORCED_WAIT_MS = 2_000;

function unlimitedAbortController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}
