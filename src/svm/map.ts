/**
 * The service-VM map: id → entry, with moby's `lcow_svm.go` semantics.
 * Every method is synchronous except `add` (which may wait for a terminating
 * entry to stop), so the map needs no lock: JavaScript runs each of them to
 * completion.
 *
 * - `add(id)`: absent → a new entry (ref 1; the caller starts the VM and calls
 *   `entry.signalStartFinished`); live → ref + 1; terminating → wait for its
 *   stop signal, then try again.
 * - `get`, `decrementRefCount`, `setRefCountZero`: ENOTFOUND for an unknown id,
 *   EVMTERMINATING for an entry at ref 0.
 * - `delete`: only an entry at ref 0 (EBUSY otherwise).
 */
import { LcowError } from '../errors.js';
import { ServiceVmEntry } from './entry.js';

export interface AddResult<VM, U> {
  entry: ServiceVmEntry<VM, U>;
  /** True for the caller that created the entry: it must start the VM and signal. */
  isNew: boolean;
}

export class ServiceVmMap<VM, U = unknown> {
  private readonly byId = new Map<string, ServiceVmEntry<VM, U>>();

  /** One step of `add` without waiting: reports a terminating entry instead. */
  tryAdd(id: string): { kind: 'new' | 'existing' | 'terminating'; entry: ServiceVmEntry<VM, U> } {
    const found = this.byId.get(id);
    if (!found) {
      const entry = new ServiceVmEntry<VM, U>(id);
      this.byId.set(id, entry);
      return { kind: 'new', entry };
    }
    if (found.terminating) return { kind: 'terminating', entry: found };
    found.refCount++;
    return { kind: 'existing', entry: found };
  }

  async add(id: string): Promise<AddResult<VM, U>> {
    for (;;) {
      const r = this.tryAdd(id);
      if (r.kind !== 'terminating') return { entry: r.entry, isNew: r.kind === 'new' };
      const stopError = await r.entry.stopped.wait();
      // A VM that failed to stop may still hold its scratch and disks: do not start a twin over it.
      if (stopError) throw new LcowError('EVMTERMINATING', `service VM ${id} did not stop cleanly`, { vmId: id }, { cause: stopError });
    }
  }

  /** The entry, or undefined; never throws. */
  peek(id: string): ServiceVmEntry<VM, U> | undefined {
    return this.byId.get(id);
  }

  get(id: string): ServiceVmEntry<VM, U> {
    return this.live(id);
  }

  /** ref - 1; `lastRef` tells the caller it must now terminate the VM. */
  decrementRefCount(id: string): { entry: ServiceVmEntry<VM, U>; lastRef: boolean } {
    const entry = this.live(id);
    entry.refCount--;
    return { entry, lastRef: entry.refCount === 0 };
  }

  /** Force ref to 0 (Remove / Cleanup): the caller must now terminate the VM. */
  setRefCountZero(id: string): ServiceVmEntry<VM, U> {
    const entry = this.live(id);
    entry.refCount = 0;
    return entry;
  }

  delete(id: string): void {
    const entry = this.byId.get(id);
    if (!entry) throw new LcowError('ENOTFOUND', `service VM ${id} is unknown`, { vmId: id });
    if (entry.refCount !== 0) throw new LcowError('EBUSY', `service VM ${id} still has ${entry.refCount} reference(s)`, { vmId: id, refCount: entry.refCount });
    this.byId.delete(id);
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  entries(): Array<ServiceVmEntry<VM, U>> {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  private live(id: string): ServiceVmEntry<VM, U> {
    const entry = this.byId.get(id);
    if (!entry) throw new LcowError('ENOTFOUND', `service VM ${id} is unknown`, { vmId: id });
    if (entry.terminating) throw new LcowError('EVMTERMINATING', `service VM ${id} is shutting down`, { vmId: id });
    return entry;
  }
}
