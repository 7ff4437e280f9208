/**
 * A verb's time limit. The daemon's v1 plugin client has no timeout of its
 * own (pkg/plugins NewClient: 0), so a verb that hangs would hang the daemon
 * call — `docker save`, `docker rm` — for ever. Every verb therefore races a
 * timer, and fails ETIMEOUT when it fires.
 *
 * The limit is on silence, not on total time: work that moves (a tar chunk
 * streamed, a file materialised) calls `touch()` and gets the whole limit
 * again, so a 10 GB layer is not cut off for being large, and a stuck one is
 * cut off for being stuck. The work is told through `signal`; what cannot be
 * aborted runs on, and its late result is the verb's business (see
 * graph-driver.ts: a late Get is put again).
 */
import { LcowError } from '../errors.js';

export class Deadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private expired: LcowError | undefined;
  private readonly waiters = new Set<(err: LcowError) => void>();

  constructor(
    private readonly verb: string,
    private readonly limitMs: number,
  ) {
    this.arm();
  }

  /** Aborted when the limit passes without progress. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Progress: the limit starts again. */
  touch(): void {
    if (this.expired || this.timer === undefined) return;
    this.timer.refresh();
  }

  /** `work`, or ETIMEOUT if the limit passes first. */
  race<T>(work: Promise<T>): Promise<T> {
    if (this.expired) return Promise.reject(this.expired);
    return new Promise<T>((resolve, reject) => {
      const onExpire = (err: LcowError) => reject(err);
      this.waiters.add(onExpire);
      work.then(
        (v) => {
          this.waiters.delete(onExpire);
          resolve(v);
        },
        (e: unknown) => {
          this.waiters.delete(onExpire);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /** The verb is over (answered or failed): the timer goes. */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expired = new LcowError('ETIMEOUT', `${this.verb}: no progress for ${this.limitMs} ms`, { verb: this.verb, limitMs: this.limitMs });
      this.controller.abort(this.expired);
      for (const w of this.waiters) w(this.expired);
      this.waiters.clear();
    }, this.limitMs);
    // A pending verb keeps the server alive anyway; the timer alone must not hold a process that is shutting down.
    this.timer.unref();
  }
}
