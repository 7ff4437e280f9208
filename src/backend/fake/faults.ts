/**
 * Fault injection for the fake VM: make the next matching call fail, or hold
 * it at a gate until the test opens it (to line up races deterministically).
 */
import { LcowError, type LcowErrorCode } from '../../errors.js';

export type FakeOp =
  | 'start'
  | 'terminate'
  | 'addScsiDisk'
  | 'removeScsiDisk'
  | 'addVpmemDevice'
  | 'removeVpmemDevice'
  | 'addVpmemMapping'
  | 'removeVpmemMapping'
  | 'mountScsi'
  | 'mountVpmem'
  | 'unmount'
  | 'unplugScsi'
  | 'combineLayers'
  | 'removeCombinedLayers'
  | 'exec';

export type ArgsMatcher = (args: readonly unknown[]) => boolean;

export interface Gate {
  /** Resolves with the call's arguments once a call is waiting at the gate. */
  readonly reached: Promise<readonly unknown[]>;
  /** Let the held call continue. */
  open(): void;
}

interface Failure {
  op: FakeOp;
  error: () => Error;
  when?: ArgsMatcher;
  times: number;
}

interface Hold {
  op: FakeOp;
  when?: ArgsMatcher;
  arrive(args: readonly unknown[]): void;
  opened: Promise<void>;
}

export class Faults {
  private failures: Failure[] = [];
  private holds: Hold[] = [];

  /**
   * The next `times` (default 1) calls of `op` whose arguments match `when`
   * reject with `error` (an LcowError of that code by default EGUEST).
   */
  failNext(op: FakeOp, error: Error | LcowErrorCode = 'EGUEST', options: { when?: ArgsMatcher; times?: number } = {}): void {
    const make = typeof error === 'string' ? () => new LcowError(error, `injected ${op} failure`, { op, injected: true }) : () => error;
    this.failures.push({ op, error: make, when: options.when, times: options.times ?? 1 });
  }

  /** Hold the next matching call of `op` until the returned gate is opened. */
  hold(op: FakeOp, when?: ArgsMatcher): Gate {
    let arrive!: (args: readonly unknown[]) => void;
    let open!: () => void;
    const reached = new Promise<readonly unknown[]>((r) => (arrive = r));
    const opened = new Promise<void>((r) => (open = r));
    this.holds.push({ op, when, arrive, opened });
    return { reached, open };
  }

  /** Drop every pending failure and hold (held calls stay held until opened). */
  clear(): void {
    this.failures = [];
    this.holds = [];
  }

  /** @internal the VM calls this before carrying out `op`. */
  async check(op: FakeOp, args: readonly unknown[]): Promise<void> {
    const h = this.holds.find((x) => x.op === op && (!x.when || x.when(args)));
    if (h) {
      this.holds.splice(this.holds.indexOf(h), 1);
      h.arrive(args);
      await h.opened;
    }
    const f = this.failures.find((x) => x.op === op && (!x.when || x.when(args)));
    if (f) {
      if (--f.times <= 0) this.failures.splice(this.failures.indexOf(f), 1);
      throw f.error();
    }
  }
}
