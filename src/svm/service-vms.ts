/**
 * Service VMs by mode, on top of the map.
 *
 * - safe mode (default): one VM per layer id, started by the first `acquire`
 *   and terminated when its last lease is released.
 * - global mode: one VM (id `_lcow_global_svm_`) for every layer. The first
 *   acquire takes an extra keep-alive reference, so releases never bring it
 *   to zero; only `stopAll` (the driver's cleanup) stops it.
 *
 * A lease belongs to one entry *generation*: releasing a lease whose entry
 * was force-stopped (and maybe replaced by a fresh VM under the same id) is
 * a no-op instead of taking a reference away from the newcomer.
 *
 * VM starts go through a bounded queue (p-queue) so a burst of safe-mode
 * operations cannot boot more VMs at once than the host can carry.
 */
import PQueue from 'p-queue';
import { LcowError, asError } from '../errors.js';
import { componentLogger, type Logger } from '../log.js';
import type { ServiceVmEntry } from './entry.js';
import { ServiceVmMap } from './map.js';

export type ServiceVmMode = 'global' | 'safe';

/** The map key of the one VM in global mode. */
export const GLOBAL_SVM_ID = '_lcow_global_svm_';

/** How a VM comes to life and goes away; the driver supplies the real ones, tests fakes. */
export interface ServiceVmLifecycle<VM> {
  /** Create and boot a VM for this map id. */
  start(vmId: string): Promise<VM>;
  /** Terminate it (and wait until it is gone). */
  stop(vmId: string, vm: VM): Promise<void>;
}

export interface ServiceVmLease<VM, U = unknown> {
  readonly vmId: string;
  readonly vm: VM;
  readonly entry: ServiceVmEntry<VM, U>;
  /** Give the reference back. A second call is EALREADYRELEASED. */
  release(): Promise<void>;
}

export interface ServiceVmsOptions<VM> {
  mode: ServiceVmMode;
  lifecycle: ServiceVmLifecycle<VM>;
  /** VMs booting at the same time (default 2). */
  maxParallelStarts?: number;
  logger?: Logger;
}

export class ServiceVms<VM, U = unknown> {
  readonly mode: ServiceVmMode;
  readonly map = new ServiceVmMap<VM, U>();
  private readonly lifecycle: ServiceVmLifecycle<VM>;
  private readonly starts: PQueue;
  private readonly log: Logger;

  constructor(options: ServiceVmsOptions<VM>) {
    this.mode = options.mode;
    this.lifecycle = options.lifecycle;
    this.starts = new PQueue({ concurrency: Math.max(1, options.maxParallelStarts ?? 2) });
    this.log = componentLogger(options.logger, 'svm', { mode: options.mode });
  }

  /** The map id that serves a layer. */
  vmIdFor(layerId: string): string {
    return this.mode === 'global' ? GLOBAL_SVM_ID : layerId;
  }

  /** Ids of the entries in the map (starting, running or terminating). */
  ids(): string[] {
    return this.map.ids();
  }

  /**
   * A running VM for this layer, with one reference held by the lease.
   * Starts the VM when there is none; waits for a terminating one to stop first.
   */
  async acquire(layerId: string): Promise<ServiceVmLease<VM, U>> {
    const vmId = this.vmIdFor(layerId);
    const { entry, isNew } = await this.map.add(vmId);
    if (isNew) {
      if (this.mode === 'global') entry.refCount++; // the keep-alive reference, dropped by stopAll
      await this.start(entry);
    }
    let vm: VM;
    try {
      vm = await entry.waitStarted();
    } catch (err) {
      await this.releaseEntry(entry, false).catch((e: unknown) => this.log.warn({ vmId, err: asError(e) }, 'release after failed start'));
      throw err;
    }
    if (entry.terminating) {
      // Force-stopped (Remove/Cleanup) while we waited for the boot: this VM is going away.
      throw new LcowError('EVMTERMINATING', `service VM ${vmId} is shutting down`, { vmId, layerId });
    }
    let released = false;
    return {
      vmId,
      vm,
      entry,
      release: async () => {
        if (released) throw new LcowError('EALREADYRELEASED', `lease on service VM ${vmId} released twice`, { vmId });
        released = true;
        await this.releaseEntry(entry, false);
      },
    };
  }

  /** acquire → fn → release; fn's error wins over a release error (which is logged). */
  async use<T>(layerId: string, fn: (lease: ServiceVmLease<VM, U>) => Promise<T>): Promise<T> {
    const lease = await this.acquire(layerId);
    let result: T;
    try {
      result = await fn(lease);
    } catch (err) {
      await lease.release().catch((e: unknown) => this.log.warn({ vmId: lease.vmId, err: asError(e) }, 'release after failed operation'));
      throw err;
    }
    await lease.release();
    return result;
  }

  /**
   * Terminate the VM serving this layer regardless of its references (Remove).
   * In global mode the shared VM is left alone. Unknown id: no-op.
   */
  async forceStop(layerId: string): Promise<void> {
    if (this.mode === 'global') return;
    const entry = this.map.peek(layerId);
    if (entry) await this.releaseEntry(entry, true);
  }

  /**
   * Terminate this entry's VM now, in either mode, if it is still the current
   * one for its id — for a VM that died under its users (EVMSTOPPED), so the
   * next acquire boots a fresh one instead of finding the dead one.
   */
  async forceStopEntry(entry: ServiceVmEntry<VM, U>): Promise<void> {
    await this.releaseEntry(entry, true);
  }

  /** Terminate every VM (Cleanup). Tries all of them, then throws the first error. */
  async stopAll(): Promise<void> {
    const results = await Promise.allSettled(this.map.entries().map((e) => this.releaseEntry(e, true)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Boot through the bounded queue and signal the outcome. Never throws. */
  private async start(entry: ServiceVmEntry<VM, U>): Promise<void> {
    const log = this.log.child({ vmId: entry.id });
    try {
      const vm = await this.starts.add(() => this.lifecycle.start(entry.id));
      entry.signalStartFinished(vm);
      log.debug('service VM started');
    } catch (err) {
      const error = asError(err);
      log.warn({ err: error }, 'service VM failed to start');
      entry.signalStartFinished(undefined, error);
      // A failed entry must not linger: force it out so the next add starts afresh.
      // Waiters already hold the start error; their releases find the entry gone.
      if (!entry.terminating) {
        entry.refCount = 0;
        await this.terminate(entry);
      }
    }
  }

  /** Drop one reference (or all, forced); the last one terminates. Stale entries: no-op. */
  private async releaseEntry(entry: ServiceVmEntry<VM, U>, force: boolean): Promise<void> {
    if (this.map.peek(entry.id) !== entry) return; // already gone, maybe replaced
    if (entry.terminating) {
      const err = await entry.stopped.wait();
      if (err) throw err;
      return;
    }
    let lastRef: boolean;
    if (force) {
      this.map.setRefCountZero(entry.id);
      lastRef = true;
    } else {
      lastRef = this.map.decrementRefCount(entry.id).lastRef;
    }
    if (!lastRef) return;
    const err = await this.terminate(entry);
    if (err) throw err;
  }

  /**
   * The one termination of an entry at ref 0: wait for its start, stop the VM
   * if it started, drop it from the map, fire `stopped`. Returns (never
   * throws) the stop error, which is also the stop signal's.
   */
  private async terminate(entry: ServiceVmEntry<VM, U>): Promise<Error | undefined> {
    const log = this.log.child({ vmId: entry.id });
    let stopError: Error | undefined;
    const startError = await entry.started.wait();
    const vm = entry.vm;
    if (!startError && vm !== undefined) {
      try {
        await this.lifecycle.stop(entry.id, vm);
      } catch (err) {
        stopError = asError(err);
        log.warn({ err: stopError }, 'service VM did not terminate cleanly');
      }
    }
    if (this.map.peek(entry.id) === entry) this.map.delete(entry.id);
    entry.signalStopFinished(stopError);
    log.debug('service VM stopped');
    return stopError;
  }
}
