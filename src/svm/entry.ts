/**
 * One service VM as the map sees it: its reference count, the VM once it has
 * started, the start and stop signals, the per-VM lock, and the union mounts
 * made in it (ref-counted, so two users of one layer share them).
 *
 * `refCount === 0` means "terminating": the entry stays in the map until its
 * VM has stopped, so that a concurrent `add` can wait for the stop signal and
 * then start a fresh VM instead of racing the old one.
 */
import { Mutex } from 'async-mutex';
import { LcowError } from '../errors.js';
import { RefCountedResources } from './ref-counted.js';
import { OnceSignal } from './signal.js';

export class ServiceVmEntry<VM, Union = unknown> {
  refCount = 1;
  private startedVm: VM | undefined;
  /** Fired by the starter (with the start error, if any). */
  readonly started = new OnceSignal();
  /** Fired once the VM is gone (with the termination error, if any). */
  readonly stopped = new OnceSignal();
  /** Serialises the operations (and guest processes) on this VM only. */
  readonly lock = new Mutex();
  /** Union mounts made in this VM, keyed by mount name. */
  readonly unionMounts = new RefCountedResources<Union>();

  constructor(readonly id: string) {}

  get terminating(): boolean {
    return this.refCount === 0;
  }

  /** The VM, or undefined while starting / after a failed start. */
  get vm(): VM | undefined {
    return this.startedVm;
  }

  /** Record the start outcome; every waiter then sees the same error object. */
  signalStartFinished(vm: VM | undefined, error?: Error): void {
    if (!error) this.startedVm = vm;
    this.started.signal(error);
  }

  signalStopFinished(error?: Error): void {
    this.stopped.signal(error);
  }

  /** Wait for the start; throw its error (the same object for every waiter). */
  async waitStarted(): Promise<VM> {
    const err = await this.started.wait();
    if (err) throw err;
    if (this.startedVm === undefined) throw new LcowError('EVMSTART', `service VM ${this.id} started without a VM`, { vmId: this.id });
    return this.startedVm;
  }

  /** Run `fn` with this VM's lock held. Not re-entrant: never call from inside `fn`. */
  runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.runExclusive(fn);
  }
}
