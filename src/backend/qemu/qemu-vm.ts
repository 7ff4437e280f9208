/**
 * One QEMU process as a VmHandle.
 *
 * Lifecycle: created → starting (spawn, QMP handshake, agent sync) →
 * running → stopping → stopped. The child's 'exit' event is the single
 * source of truth for "stopped": it rejects every pending QMP, agent and GCS
 * call with EVMSTOPPED, removes the private socket folder, and settles
 * waitExit. Host operations go to QMP, guest operations to qemu-ga (see
 * guest-ops.ts) — or, in gcs mode, to hcsshim's GCS over its bridge.
 *
 * gcs mode (options.gcs; the boot image is the gcs variant): mounts,
 * unmounts, overlays and SCSI unplugs are GCS requests. Process output
 * needs vsock, so without it `exec` still runs through qemu-ga (output and
 * exit code from there) and `execViaGcs` runs a process through the bridge
 * for its exit code alone; with vsock both go through the GCS. qemu-ga stays
 * for what the GCS has no request for: finding which /dev/pmemN a VPMEM slot
 * became, and letting go of a virtio-pmem device QEMU cannot unplug.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LcowError, asError, isLcowError } from '../../errors.js';
import { componentLogger, type Logger } from '../../log.js';
import { VPMEM_ADDED, vpmemRefused, type VpmemAddResult } from '../contract.js';
import { GcsClient, GcsGuestOps, type GcsNegotiated, type StdioTransport } from '../gcs/index.js';
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
import { VPMEM_ALIGNMENT, blockdevArgs, inspectDisk, vpmemMapping } from './disk-format.js';
import { fileIdentity } from './file-identity.js';
import { GuestAgentClient } from './guest-agent-client.js';
import { guestExec } from './guest-exec.js';
import { GuestOpsImpl } from './guest-ops.js';
import { QEMU_LIMITS, buildQemuArgs, vpmemDeviceBus } from './qemu-args.js';
import { QmpClient } from './qmp-client.js';
import type { TemplateFiles } from './template/store.js';
import { gcsStateFile, restoreState, saveState } from './template/migration.js';
import { connectUnixSocket } from './unix-socket.js';

export interface QemuVmOptions {
  qemuBinary: string;
  accel: string;
  kernelPath: string;
  initrdPath: string;
  /** Boot to agent-ready limit, ms. */
  startTimeoutMs: number;
  /** After a graceful stop request, how long before QMP quit, then SIGKILL. */
  stopGraceMs: number;
  consoleLogPath?: string;
  logger?: Logger;
  /** Serve guest requests with hcsshim's GCS; the boot files must be the gcs variant of the guest image. */
  gcs?: QemuGcsMode;
  /** Start by restoring a template of this VM's shape when there is one (see template/). */
  template?: VmTemplateSource;
  /** Guest RAM in this file, shared: how a template is built (saveTemplateState). */
  ramFile?: string;
}

/** Where a VM's template comes from: the backend's TemplateStore, bound to the VM's shape. */
export interface VmTemplateSource {
  /** A template to restore, built first if needed; undefined: boot cold. Never throws. */
  acquire(): Promise<TemplateFiles | undefined>;
  /** It failed to restore: log and remove it, so that the next start rebuilds it. */
  discard(files: TemplateFiles, why: unknown): Promise<void>;
}

/** How a running VM got there. */
export type QemuStartMode = NonNullable<VmProperties['startMode']>;

export interface QemuGcsMode {
  /** Process stdio over vsock: the guest's context id and the host's listeners (needs /dev/vhost-vsock). */
  vsock?: { cid: number; stdio: StdioTransport; firstStdioPort: number };
}

/** What serves a VM's guest requests. */
export type QemuGuestAgent = 'gcs' | 'qemu-guest-agent';

const DEFAULT_OPERATION_TIMEOUT_MS = 60_000;
const STDERR_TAIL_BYTES = 8192;

/**
 * QEMU children still running, with their socket folders. If this Node
 * process exits without stopping them (a crashed test worker, an engine that
 * forgot), they are killed and their folders removed rather than left
 * behind as orphan VMs. ('exit' handlers must be synchronous.)
 */
const liveChildren = new Map<ChildProcess, string>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess, runDir: string): void {
  liveChildren.set(child, runDir);
  child.once('exit', () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const [c, dir] of liveChildren) {
        c.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

/** A VM's sockets in its run folder (short names: a unix socket path may not exceed 107 bytes). */
function vmSockets(runDir: string, options: QemuVmOptions): { qmpSocket: string; agentSocket: string; gcsSocket: string | undefined } {
  return {
    qmpSocket: path.join(runDir, 'qmp.sock'),
    agentSocket: path.join(runDir, 'agent.sock'),
    gcsSocket: options.gcs ? path.join(runDir, 'gcs.sock') : undefined,
  };
}

/**
 * The QEMU argv of a VM: the one mapping from its spec and options, used by
 * every launch and, with constant paths, by the template key (so a device
 * layout change made here makes templates stale). `template`: a restore
 * (-incoming, the template's RAM file mapped privately).
 */
export function vmQemuArgs(
  spec: VmSpec,
  options: QemuVmOptions,
  where: { runDir: string; consoleLogPath: string | undefined },
  template?: Pick<TemplateFiles, 'ramPath'>,
): string[] {
  const ramFile = template ? { path: template.ramPath, share: false } : options.ramFile ? { path: options.ramFile, share: true } : undefined;
  return buildQemuArgs({
    spec,
    kernelPath: options.kernelPath,
    initrdPath: options.initrdPath,
    ...vmSockets(where.runDir, options),
    accel: options.accel,
    consoleLogPath: where.consoleLogPath,
    vsockCid: options.gcs?.vsock?.cid,
    ...(ramFile ? { ramFile } : {}),
    incoming: template !== undefined,
  });
}

export class QemuVm implements VmHandle {
  readonly id: string;
  private currentState: VmState = 'created';
  private child: ChildProcess | undefined;
  private runDir: string | undefined;
  private qmp: QmpClient | undefined;
  private agent: GuestAgentClient | undefined;
  private readonly guest: GuestOpsImpl;
  private gcs: GcsClient | undefined;
  /** gcs mode: guest operations as GCS requests. */
  private readonly gcsOps: GcsGuestOps | undefined;
  /** gcs mode: the N of /dev/pmemN each attached VPMEM slot became (looked up at its first mount). */
  private readonly pmemNumbers = new Map<number, number>();
  private readonly log: Logger;
  private stderrTail = '';
  /** A restore from a template is being tried: an exit now ends the attempt, not the VM. */
  private restoring: { exited?: VmExitInfo; settle?: () => void } | undefined;
  private mode: QemuStartMode | undefined;
  /** Paused after saveTemplateState: it must never run again. */
  private savedForTemplate = false;
  private terminateRequested = false;
  private terminating: Promise<void> | undefined;
  private exitInfo: VmExitInfo | undefined;
  private readonly exited: Promise<VmExitInfo>;
  private resolveExited!: (info: VmExitInfo) => void;
  private readonly opTimeoutMs: number;
  /**
   * Slots whose device QEMU could not unplug, with the file it still maps:
   * that same file (same inode, size and mtime) can have the slot back — the
   * guest just rebinds the device — anything else is refused 'slot-held'.
   */
  private readonly retiredVpmemSlots = new Map<number, HeldFile>();
  /** Attached VPMEM slots and the file each maps. */
  private readonly vpmemFiles = new Map<number, HeldFile>();

  constructor(
    readonly spec: VmSpec,
    private readonly options: QemuVmOptions,
  ) {
    this.id = spec.id;
    this.log = componentLogger(options.logger, 'qemu-vm', { vmId: spec.id });
    this.opTimeoutMs = spec.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.guest = new GuestOpsImpl((argv, o) => this.execViaAgent(argv, o));
    if (options.gcs) this.gcsOps = new GcsGuestOps(this.id, (request) => this.whileRunning(() => this.requireGcs('guest request').modify(request)));
  }

  /** What serves this VM's mounts, overlays and unplugs. */
  get guestAgent(): QemuGuestAgent {
    return this.options.gcs ? 'gcs' : 'qemu-guest-agent';
  }

  get state(): VmState {
    return this.currentState;
  }

  /** The private folder holding the QMP/agent sockets (removed when the VM stops). */
  get runtimeDir(): string | undefined {
    return this.runDir;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** 'template' when restored from a template, 'cold' when booted; undefined before it runs. */
  get startMode(): QemuStartMode | undefined {
    return this.mode;
  }

  // ---- lifecycle -------------------------------------------------------

  async start(): Promise<void> {
    if (this.currentState !== 'created') {
      throw new LcowError('EINVAL', `cannot start VM ${this.id} in state ${this.currentState}`, { vmId: this.id, state: this.currentState });
    }
    this.currentState = 'starting';
    const deadline = Date.now() + this.options.startTimeoutMs;
    const template = await this.options.template?.acquire();
    try {
      if (this.terminateRequested) throw new LcowError('EVMSTOPPED', 'terminated while starting', {});
      if (template && (await this.tryRestore(template, deadline))) return;
      await this.launch(deadline);
      this.mode = 'cold';
      this.currentState = 'running';
      this.log.info({ pid: this.child?.pid }, 'VM running');
    } catch (err) {
      const detail = this.stderrTail.trim();
      await this.kill();
      throw new LcowError(
        'EVMSTART',
        `VM ${this.id} failed to start: ${asError(err).message}${detail ? ` (qemu: ${detail})` : ''}`,
        { vmId: this.id, stderr: detail },
        { cause: err },
      );
    }
  }

  /**
   * Start by restoring `template`; false (the attempt undone, the template
   * discarded) when that failed and a cold boot should follow. An exit
   * during the attempt ends the attempt, not the VM.
   */
  private async tryRestore(template: TemplateFiles, deadline: number): Promise<boolean> {
    const t0 = Date.now();
    const attempt: NonNullable<QemuVm['restoring']> = {};
    this.restoring = attempt;
    try {
      await this.launch(deadline, template);
      this.restoring = undefined;
      if (attempt.exited) throw new LcowError('EVMSTOPPED', 'qemu exited during the restore', {});
      this.mode = 'template';
      this.currentState = 'running';
      this.log.info({ pid: this.child?.pid, ms: Date.now() - t0 }, 'VM running (restored from a template)');
      return true;
    } catch (err) {
      const detail = this.stderrTail.trim();
      if (this.terminateRequested || this.exitInfo) {
        this.restoring = undefined;
        throw err; // terminated meanwhile: no cold boot
      }
      await this.abandonAttempt(attempt);
      await this.options.template?.discard(
        template,
        new LcowError('EVMSTART', `${asError(err).message}${detail ? ` (qemu: ${detail})` : ''}`, {}, { cause: err }),
      );
      return false;
    }
  }

  /** Undo a failed restore: its QEMU killed and reaped, its clients and socket folder gone. */
  private async abandonAttempt(attempt: NonNullable<QemuVm['restoring']>): Promise<void> {
    const child = this.child;
    if (child && !attempt.exited) {
      const gone = new Promise<void>((resolve) => (attempt.settle = resolve));
      child.kill('SIGKILL');
      await gone;
    }
    this.restoring = undefined;
    this.stopClients('restore abandoned');
    this.qmp = this.agent = this.gcs = this.child = undefined;
    if (this.runDir) await rm(this.runDir, { recursive: true, force: true });
    this.runDir = undefined;
    this.stderrTail = '';
  }

  /**
   * Spawn QEMU and connect to it until the agent (and the GCS) answer: a cold
   * boot, or with `template` a restore (-incoming defer, the template's RAM
   * file mapped privately, its state loaded over QMP, the clock set).
   */
  private async launch(deadline: number, template?: TemplateFiles): Promise<void> {
    // short: a unix socket path may not exceed 107 bytes
    this.runDir = await mkdtemp(path.join(os.tmpdir(), `lcow-qemu-${this.id.slice(0, 16)}-`));
    const { qmpSocket, agentSocket, gcsSocket } = vmSockets(this.runDir, this.options);
    const args = vmQemuArgs(this.spec, this.options, { runDir: this.runDir, consoleLogPath: this.options.consoleLogPath }, template);
    this.log.debug({ args }, 'spawning qemu');
    this.spawnChild(args);
    const exited = (): boolean => this.exitInfo !== undefined || this.restoring?.exited !== undefined;
    const aborted = (): string | undefined => (exited() ? `qemu exited: ${this.stderrTail.trim() || 'no message'}` : undefined);
    // With wait=on QEMU runs nothing (not even QMP) until the GCS port has its client.
    const gcsSock = gcsSocket ? await connectUnixSocket(gcsSocket, deadline, aborted) : undefined;
    const qmpSock = await connectUnixSocket(qmpSocket, deadline, aborted);
    this.qmp = await QmpClient.handshake(qmpSock, Math.max(1, deadline - Date.now()), this.log);
    this.qmp.on('event', (ev) => this.log.debug({ event: ev.event }, 'qmp event'));
    if (template) await restoreState(this.qmp, template.statePath, deadline);
    const agentSock = await connectUnixSocket(agentSocket, deadline, aborted);
    this.agent = new GuestAgentClient(agentSock, this.log);
    if (exited()) this.agent.stop('VM stopped');
    await Promise.all([this.agent.waitReady(deadline, 1000), gcsSock && this.connectGcs(gcsSock, deadline, template)]);
    // The guest's clocks resumed from the moment the template was saved.
    if (template) await this.agent.request('guest-set-time', { time: Date.now() * 1_000_000 }, Math.max(1, deadline - Date.now()));
    if (exited()) throw new LcowError('EVMSTOPPED', 'VM stopped during start', {});
  }

  /**
   * Building a template (options.ramFile): pause the VM and write its device
   * state to `statePath`, leaving its RAM (the shared file) out of the
   * stream (x-ignore-shared). The VM stays paused; terminate it next — it
   * must never run again, or it would change the RAM file under the state.
   */
  async saveTemplateState(statePath: string): Promise<void> {
    const { qmp } = this.requireRunning('saveTemplateState');
    if (!this.options.ramFile) throw new LcowError('EINVAL', `VM ${this.id} has no RAM file to make a template of`, { vmId: this.id });
    // gcs mode: what the GCS agreed to, for the restored VMs' clients to resume
    if (this.gcs) await writeFile(gcsStateFile(statePath), JSON.stringify(this.gcs.negotiated));
    this.savedForTemplate = true;
    await saveState(qmp, statePath, this.opTimeoutMs);
  }

  /**
   * Negotiate with the GCS; its bytes wait in the socket until the guest
   * opens its end of the port. Restored from a template, the guest's GCS
   * negotiated with the template builder already (once per boot): the client
   * resumes that state, and one process through the bridge proves it serves.
   */
  private async connectGcs(socket: Socket, deadline: number, template?: TemplateFiles): Promise<void> {
    const vsock = this.options.gcs?.vsock;
    const options = {
      logger: this.log,
      vmId: this.id,
      requestTimeoutMs: this.opTimeoutMs,
      negotiateTimeoutMs: Math.max(1, deadline - Date.now()),
      ...(vsock ? { stdio: vsock.stdio, firstStdioPort: vsock.firstStdioPort } : {}),
    };
    if (template) {
      const negotiated = JSON.parse(await readFile(gcsStateFile(template.statePath), 'utf8')) as GcsNegotiated;
      this.gcs = GcsClient.resume(socket, negotiated, options);
      const probe = await this.gcs.exec(['true'], { noStdio: true, timeoutMs: Math.max(1, deadline - Date.now()) });
      if (probe.exitCode !== 0) throw new LcowError('EBRIDGE', `the resumed GCS bridge ran true with exit ${probe.exitCode}`, { reason: 'resume' });
      return;
    }
    const client = await GcsClient.connect(socket, options);
    this.gcs = client;
    if (this.exitInfo) client.stop('VM stopped');
    this.log.info({ protocolVersion: client.protocolVersion, capabilities: client.capabilities.GuestDefinedCapabilities }, 'GCS bridge negotiated');
  }

  private spawnChild(args: string[]): void {
    const child = spawn(this.options.qemuBinary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    trackChild(child, this.runDir as string);
    child.stderr?.on('data', (b: Buffer) => {
      this.stderrTail = (this.stderrTail + b.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    const attempt = this.restoring;
    const ended = (info: VmExitInfo): void => {
      // a failed restore attempt ends here (unless the VM is being terminated: then it is the VM's end)
      if (attempt && (this.restoring === attempt || this.child !== child) && !this.terminateRequested) {
        attempt.exited = info;
        this.stopClients('qemu exited during a restore');
        attempt.settle?.();
        return;
      }
      this.onExit(info);
      // terminate() during an abandoned restore: the abandon waits for this exit too
      attempt?.settle?.();
    };
    child.on('error', (err) => {
      // spawn failure (e.g. no qemu binary): no 'exit' follows
      ended({ reason: 'exited', detail: `spawn failed: ${err.message}` });
    });
    child.on('exit', (code, signal) => {
      let info: VmExitInfo;
      if (this.terminateRequested) info = { reason: 'terminated', detail: signal ? `signal ${signal}` : `exit ${code}` };
      else if (signal) info = { reason: 'killed', detail: `qemu killed by ${signal}` };
      else info = { reason: 'exited', detail: `qemu exited with ${code}${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}` };
      ended(info);
    });
  }

  private stopClients(reason: string): void {
    this.qmp?.stop(reason);
    this.agent?.stop(reason);
    this.gcs?.stop(reason);
  }

  private onExit(info: VmExitInfo): void {
    if (this.exitInfo) return;
    this.exitInfo = info;
    this.currentState = 'stopped';
    this.log.info(info, 'VM stopped');
    this.stopClients(`VM ${this.id} stopped (${info.reason})`);
    const dir = this.runDir;
    const done = (): void => this.resolveExited(info);
    if (dir) void rm(dir, { recursive: true, force: true }).then(done, done);
    else done();
  }

  /** SIGKILL the process (if any) and wait for the exit handling to finish. */
  private async kill(): Promise<void> {
    if (this.child && !this.exitInfo) {
      this.child.kill('SIGKILL');
      await this.exited;
    } else if (!this.exitInfo) {
      this.onExit({ reason: 'terminated', detail: 'never started' });
    }
    await this.exited;
  }

  terminate(): Promise<void> {
    this.terminating ??= this.doTerminate();
    return this.terminating;
  }

  private async doTerminate(): Promise<void> {
    if (this.exitInfo) return;
    this.terminateRequested = true;
    if (!this.child) {
      this.onExit({ reason: 'terminated', detail: 'never started' });
      return;
    }
    this.currentState = 'stopping';
    const grace = this.options.stopGraceMs;
    const exitedWithin = (ms: number): Promise<boolean> =>
      Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    // 1. the guest powers off (-no-reboot makes that an exit): in gcs mode
    // ShutdownForced, as hcsshim ends a UVM; else qemu-ga's `poweroff -f`, which syncs first
    if (this.savedForTemplate) {
      // paused for good: nobody in the guest would answer
    } else if (this.gcs && !this.gcs.isClosed) {
      await Promise.race([this.gcs.shutdownForced().catch(() => undefined), this.exited]);
      if (await exitedWithin(grace)) return;
    } else if (this.agent && !this.agent.stopped) {
      const asked = await Promise.race([
        this.agent.request('guest-exec', { path: 'poweroff', arg: ['-f'] }, grace).then(
          () => true,
          () => false,
        ),
        this.exited.then(() => true),
      ]);
      if (asked && (await exitedWithin(grace))) return;
    }
    // 2. QEMU stops the machine itself (flushing its block layer)
    if (this.qmp && !this.qmp.stopped) {
      this.qmp.execute('quit').catch(() => undefined);
      if (await exitedWithin(grace)) return;
    }
    // 3. no more asking
    await this.kill();
  }

  waitExit(): Promise<VmExitInfo> {
    return this.exited;
  }

  async properties(): Promise<VmProperties> {
    const p: VmProperties = { id: this.id, state: this.currentState, backend: 'qemu', memoryMiB: this.spec.memoryMiB, cpus: this.spec.cpus };
    if (this.child?.pid !== undefined && !this.exitInfo) p.pid = this.child.pid;
    if (this.mode) p.startMode = this.mode;
    return p;
  }

  /**
   * Run an operation; if it fails because a connection to QEMU closed, let
   * the exit be observed first, so that a caller who sees EVMSTOPPED also
   * sees state 'stopped' and a settled waitExit. A closed connection with the
   * process still alive after a grace period leaves a VM nobody can control:
   * it is killed.
   */
  private async whileRunning<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      // A GCS bridge that broke (EBRIDGE) is, like a closed QMP or agent
      // socket, most often the VM going away: the GCS serves one connection
      // per boot and the guest powers off when it exits.
      if (isLcowError(err, 'EVMSTOPPED', 'EBRIDGE') && !this.exitInfo) {
        const exited = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
        if (!exited && !this.terminateRequested) await this.kill();
      }
      if (isLcowError(err, 'EBRIDGE') && this.exitInfo) {
        throw new LcowError('EVMSTOPPED', `VM ${this.id} stopped (${this.exitInfo.reason}): ${err.message}`, { ...err.context, vmId: this.id }, { cause: err });
      }
      throw err;
    }
  }

  private requireGcs(op: string): GcsClient {
    this.requireRunning(op);
    if (!this.gcs) throw new LcowError('EUNSUPPORTED', `${op}: VM ${this.id} is not in gcs mode`, { vmId: this.id, op });
    return this.gcs;
  }

  private requireRunning(op: string): { qmp: QmpClient; agent: GuestAgentClient } {
    if (this.currentState === 'running' && this.qmp && this.agent) return { qmp: this.qmp, agent: this.agent };
    const stopped = this.currentState === 'stopped' || this.currentState === 'stopping';
    throw new LcowError(stopped ? 'EVMSTOPPED' : 'EINVAL', `${op}: VM ${this.id} is ${this.currentState}`, { vmId: this.id, state: this.currentState, op });
  }

  // ---- host side -------------------------------------------------------

  private checkScsiSlot(controller: number, lun: number): void {
    if (
      !Number.isInteger(controller) ||
      controller < 0 ||
      controller >= this.spec.scsiControllers ||
      !Number.isInteger(lun) ||
      lun < 0 ||
      lun >= QEMU_LIMITS.lunsPerController
    ) {
      throw new LcowError('EINVAL', `no SCSI location ${controller}:${lun} on VM ${this.id}`, { vmId: this.id, controller, lun });
    }
  }

  private checkVpmemSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.spec.vpmem.count) {
      throw new LcowError('EINVAL', `no VPMEM slot ${slot} on VM ${this.id} (count ${this.spec.vpmem.count})`, { vmId: this.id, slot });
    }
  }

  addScsiDisk(controller: number, lun: number, disk: DiskAttachment): Promise<void> {
    return this.whileRunning(async () => {
      this.checkScsiSlot(controller, lun);
      const { qmp } = this.requireRunning('addScsiDisk');
      const layout = await inspectDisk(disk.hostPath, disk.format);
      const node = `scsi-c${controller}-l${lun}`;
      await qmp.execute('blockdev-add', blockdevArgs(node, disk.hostPath, layout, disk.readOnly));
      try {
        await qmp.execute('device_add', { driver: 'scsi-hd', id: `${node}-dev`, bus: `scsi${controller}.0`, 'scsi-id': 0, lun, drive: node });
      } catch (err) {
        await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
        throw err;
      }
      this.log.debug({ controller, lun, hostPath: disk.hostPath, format: layout.format }, 'SCSI disk added');
    });
  }

  removeScsiDisk(controller: number, lun: number): Promise<void> {
    return this.whileRunning(async () => {
      this.checkScsiSlot(controller, lun);
      const { qmp } = this.requireRunning('removeScsiDisk');
      const node = `scsi-c${controller}-l${lun}`;
      await this.deleteDevice(qmp, `${node}-dev`);
      await qmp.execute('blockdev-del', { 'node-name': node });
    });
  }

  /** device_del completes when QEMU says DEVICE_DELETED (for PCI devices the guest must let go first). */
  private async deleteDevice(qmp: QmpClient, id: string): Promise<void> {
    const gone = qmp.waitForEvent('DEVICE_DELETED', (d) => d.device === id, this.opTimeoutMs);
    gone.catch(() => undefined);
    await qmp.execute('device_del', { id });
    await gone;
  }

  addVpmemDevice(slot: number, device: VpmemAttachment): Promise<VpmemAddResult> {
    return this.whileRunning(async () => {
      this.checkVpmemSlot(slot);
      const { qmp } = this.requireRunning('addVpmemDevice');
      const held = this.retiredVpmemSlots.get(slot);
      if (held) {
        if (held.path !== device.hostPath || !sameFile(held, await heldFile(device.hostPath))) {
          return vpmemRefused(
            'slot-held',
            `VPMEM slot ${slot} of VM ${this.id} still maps ${held.path} (QEMU cannot unplug it); only that file can use it again`,
          );
        }
        await this.guest.reviveVpmem(slot);
        this.retiredVpmemSlots.delete(slot);
        this.vpmemFiles.set(slot, held);
        return VPMEM_ADDED;
      }
      const identity = await heldFile(device.hostPath);
      const mapping = vpmemMapping(await inspectDisk(device.hostPath, device.format), device.hostPath, this.spec.vpmem.maxSizeBytes);
      if (!('size' in mapping)) return mapping;
      const { size } = mapping;
      const mem = `pmem-mem${slot}`;
      // readonly=on: QEMU opens the file O_RDONLY and maps it read-only; share=off
      // so nothing could ever reach the layer file even if a write got through.
      // align: place the region on a 2 MiB boundary of guest memory, as Linux requires.
      await qmp.execute('object-add', {
        'qom-type': 'memory-backend-file',
        id: mem,
        'mem-path': device.hostPath,
        size,
        share: false,
        readonly: true,
        align: VPMEM_ALIGNMENT,
      });
      try {
        await qmp.execute('device_add', { driver: 'virtio-pmem-pci', id: `pmem${slot}`, memdev: mem, ...vpmemDeviceBus(slot) });
      } catch (err) {
        await qmp.execute('object-del', { id: mem }).catch(() => undefined);
        throw err;
      }
      this.vpmemFiles.set(slot, identity);
      return VPMEM_ADDED;
    });
  }

  /**
   * The guest drops the device (refused while mounted), so no /dev/pmem is
   * left behind. QEMU (7.2 here) cannot unplug virtio memory devices at all —
   * device_del answers "virtio based memory devices cannot be unplugged" — so
   * the device stays, detached in the guest, and its slot is retired: the
   * same file added there again gets the device back (the guest rebinds it);
   * any other file is refused 'slot-held' (the backend declares
   * `vpmemUnplug: 'same-file-only'`, so the VPMEM manager never asks). The
   * host file stays mapped (read-only, private) until the VM stops.
   */
  removeVpmemDevice(slot: number): Promise<void> {
    return this.whileRunning(async () => {
      this.checkVpmemSlot(slot);
      this.requireRunning('removeVpmemDevice');
      const held = this.vpmemFiles.get(slot);
      if (!held) {
        throw new LcowError('ENOTFOUND', `no VPMEM device in slot ${slot} of VM ${this.id}`, { vmId: this.id, slot });
      }
      await this.guest.releaseVpmem(slot);
      this.pmemNumbers.delete(slot); // its region id is free again: a revived device may get another
      this.vpmemFiles.delete(slot);
      this.retiredVpmemSlots.set(slot, held);
    });
  }

  /** A virtio-pmem device maps one whole file (capabilities.vpmemMapped is false). */
  addVpmemMapping(slot: number, offsetBytes: number): Promise<VpmemAddResult> {
    return Promise.reject(
      new LcowError('EUNSUPPORTED', 'QEMU maps one file per virtio-pmem device, never several at offsets', { vmId: this.id, slot, offsetBytes }),
    );
  }

  removeVpmemMapping(slot: number, offsetBytes: number): Promise<void> {
    return Promise.reject(
      new LcowError('EUNSUPPORTED', 'QEMU maps one file per virtio-pmem device, never several at offsets', { vmId: this.id, slot, offsetBytes }),
    );
  }

  // ---- guest side ------------------------------------------------------

  /**
   * Run a process from argv. In gcs mode with vsock stdio it runs through the
   * GCS; otherwise through qemu-ga (output and exit code both from there).
   */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (this.gcs?.hasStdio) return this.execViaGcs(argv, options);
    return this.execViaAgent(argv, options);
  }

  /**
   * gcs mode: run a process through the GCS bridge (ExecuteProcess, one
   * WaitForProcess, kill -9 by a second process on a time limit). Without
   * vsock there is no stdio: the exit code is the GCS's, stdout and stderr
   * are empty, stdin is EUNSUPPORTED.
   */
  execViaGcs(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.whileRunning(() => this.requireGcs('execViaGcs').exec(argv, options));
  }

  /** gcs mode: every goroutine's stack in the GCS (diagnostics). */
  gcsDumpStacks(): Promise<string> {
    return this.whileRunning(() => this.requireGcs('gcsDumpStacks').dumpStacks());
  }

  private execViaAgent(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return this.whileRunning(async () => {
      const { agent } = this.requireRunning('exec');
      return guestExec(agent, argv, options, { requestTimeoutMs: this.opTimeoutMs });
    });
  }

  mountScsi(req: ScsiMountRequest): Promise<void> {
    this.checkScsiSlot(req.controller, req.lun);
    return (this.gcsOps ?? this.guest).mountScsi(req);
  }

  async mountVpmem(req: VpmemMountRequest): Promise<void> {
    this.checkVpmemSlot(req.slot);
    if (!this.gcsOps) {
      if (req.mapping)
        throw new LcowError('EUNSUPPORTED', 'mounting part of a VPMEM device needs the GCS (dm-linear); qemu-guest-agent mounts whole devices', {
          vmId: this.id,
          slot: req.slot,
        });
      return this.guest.mountVpmem(req);
    }
    // The GCS mounts /dev/pmem<DeviceNumber>: send the N this slot's device has in the guest.
    let n = this.pmemNumbers.get(req.slot);
    if (n === undefined) {
      n = await this.guest.pmemIndex(req.slot);
      this.pmemNumbers.set(req.slot, n);
    }
    return this.gcsOps.mountVpmem({ ...req, slot: n });
  }

  unmount(guestPath: string): Promise<void> {
    return (this.gcsOps ?? this.guest).unmount(guestPath);
  }

  unplugScsi(controller: number, lun: number): Promise<void> {
    this.checkScsiSlot(controller, lun);
    return (this.gcsOps ?? this.guest).unplugScsi(controller, lun);
  }

  combineLayers(req: CombineLayersRequest): Promise<void> {
    return (this.gcsOps ?? this.guest).combineLayers(req);
  }

  removeCombinedLayers(target: string): Promise<void> {
    return (this.gcsOps ?? this.guest).removeCombinedLayers(target);
  }
}

/** A host file as QEMU mapped it: path plus what tells a replaced or rewritten file apart. */
interface HeldFile {
  path: string;
  identity: string;
}

async function heldFile(hostPath: string): Promise<HeldFile> {
  const identity = await fileIdentity(hostPath);
  if (!identity) throw new LcowError('ENOTFOUND', `no file at ${hostPath}`, { hostPath });
  return { path: hostPath, identity };
}

function sameFile(a: HeldFile, b: HeldFile): boolean {
  return a.identity === b.identity;
}
