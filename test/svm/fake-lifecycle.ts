// A VM lifecycle for the svm tests: VMs are plain objects; starts and stops
// take a few event-loop turns (or wait on a gate the test opens), may be told
// to fail, and every invariant breach is recorded rather than thrown.
import type { ServiceVmLifecycle } from '../../src/svm/index.js';

export interface FakeVm {
  id: string;
  serial: number;
  stopped: boolean;
}

export interface Gate {
  promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

export const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

export class FakeLifecycle implements ServiceVmLifecycle<FakeVm> {
  serial = 0;
  starts = 0;
  stops = 0;
  booting = 0;
  maxBooting = 0;
  /** id → the VM alive for it (started, not yet stopped). */
  readonly alive = new Map<string, FakeVm>();
  readonly violations: string[] = [];
  /** Decide per start whether it fails. */
  failStart: (vmId: string) => Error | undefined = () => undefined;
  /** Event-loop turns a start / stop takes. */
  delay: () => number = () => 1;
  startGate: Gate | undefined;
  stopGate: Gate | undefined;

  async start(vmId: string): Promise<FakeVm> {
    this.starts++;
    this.booting++;
    this.maxBooting = Math.max(this.maxBooting, this.booting);
    try {
      if (this.alive.has(vmId)) this.violations.push(`second VM started for ${vmId} while one is alive`);
      await turns(this.delay());
      if (this.startGate) await this.startGate.promise;
      const err = this.failStart(vmId);
      if (err) throw err;
      const vm = { id: vmId, serial: ++this.serial, stopped: false };
      this.alive.set(vmId, vm);
      return vm;
    } finally {
      this.booting--;
    }
  }

  async stop(vmId: string, vm: FakeVm): Promise<void> {
    this.stops++;
    if (vm.stopped) this.violations.push(`VM ${vmId}#${vm.serial} stopped twice`);
    await turns(this.delay());
    if (this.stopGate) await this.stopGate.promise;
    vm.stopped = true;
    if (this.alive.get(vmId) === vm) this.alive.delete(vmId);
  }
}
