/**
 * The managers' view of whether the VM is still there.
 *
 * Once the backend VM has exited, every new operation must fail at once with
 * EVMSTOPPED instead of waiting on a backend that will never answer, and every
 * undo (unmount, detach) has nothing left to undo: the resources went with the
 * VM. Backends already reject pending calls with EVMSTOPPED; racing each call
 * with the exit here means a backend that forgets to does not hang us either.
 */
import { LcowError, isLcowError } from '../errors.js';

export class VmGuard {
  private stoppedAt: Promise<void>;
  private markStopped!: () => void;
  private isStopped = false;

  constructor(private readonly vmId: string) {
    this.stoppedAt = new Promise<void>((resolve) => {
      this.markStopped = resolve;
    });
  }

  get stopped(): boolean {
    return this.isStopped;
  }

  /** Record that the VM is gone. Idempotent. */
  stop(): void {
    if (this.isStopped) return;
    this.isStopped = true;
    this.markStopped();
  }

  /** Run a backend operation that creates or uses state: EVMSTOPPED if the VM is or goes away. */
  async do<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.isStopped) throw this.stoppedError(operation);
    const stopped = this.stoppedAt.then((): never => {
      throw this.stoppedError(operation);
    });
    // Keep the losing side of the race from becoming an unhandled rejection.
    stopped.catch(() => undefined);
    return Promise.race([fn(), stopped]);
  }

  /**
   * Run a backend operation that tears state down. With the VM gone there is
   * nothing to tear down, so this succeeds without calling the backend, and a
   * failure caused by the VM stopping midway counts as success too.
   */
  async undo(operation: string, fn: () => Promise<void>): Promise<void> {
    if (this.isStopped) return;
    try {
      await this.do(operation, fn);
    } catch (err) {
      if (this.isStopped || isLcowError(err, 'EVMSTOPPED')) {
        this.stop();
        return;
      }
      throw err;
    }
  }

  stoppedError(operation: string): LcowError {
    return new LcowError('EVMSTOPPED', `utility VM ${this.vmId} has stopped`, { vmId: this.vmId, operation });
  }
}
