/**
 * The one `release()` of a handle.
 *
 * A handle is released once: a second call — while the first is running or
 * after it succeeded — is EALREADYRELEASED. Unlike hcsshim (a sync.Once that
 * swallows the outcome), a release that *fails* leaves the handle held, so the
 * owner can call release() again; the steps resume where they stopped because
 * each step records its own progress (see ref-table.ts).
 */
import { LcowError } from '../errors.js';

export class ReleaseOnce {
  private state: 'held' | 'releasing' | 'released' = 'held';

  constructor(
    private readonly what: string,
    private readonly context: Record<string, unknown>,
    private readonly steps: () => Promise<void>,
  ) {}

  get released(): boolean {
    return this.state === 'released';
  }

  async release(): Promise<void> {
    if (this.state !== 'held') {
      throw new LcowError('EALREADYRELEASED', `${this.what} was already released`, { ...this.context, state: this.state });
    }
    this.state = 'releasing';
    try {
      await this.steps();
      this.state = 'released';
    } catch (err) {
      this.state = 'held';
      throw err;
    }
  }
}
