/**
 * A one-shot signal that carries an optional error — the TypeScript shape of
 * moby's "store the error under the lock, then close the channel".
 *
 * `wait()` resolves (never rejects) with the error, so a signal nobody waits
 * on cannot raise an unhandled rejection, and every waiter receives the very
 * same Error object.
 */
export class OnceSignal {
  private fired = false;
  private firedWith: Error | undefined;
  private resolve!: (err: Error | undefined) => void;
  private readonly done: Promise<Error | undefined>;

  constructor() {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  /** Fire the signal. Only the first call counts; it returns false for later ones. */
  signal(error?: Error): boolean {
    if (this.fired) return false;
    this.fired = true;
    this.firedWith = error;
    this.resolve(error);
    return true;
  }

  get isSet(): boolean {
    return this.fired;
  }

  /** The error it was fired with (undefined when not fired or fired clean). */
  get error(): Error | undefined {
    return this.firedWith;
  }

  /** Resolves with the error (or undefined) once fired. */
  wait(): Promise<Error | undefined> {
    return this.done;
  }
}
