/**
 * Runs one HCS asynchronous call to completion without blocking the event loop.
 *
 * 1. HcsCreateOperation(context = a bigint id, the process-wide completion callback).
 * 2. The call itself via `.async` (it only *starts* the work; S_OK means started).
 * 3. Wait for the completion callback, bounded by timeoutMs.
 * 4. HcsWaitForOperationResult(op, 0): the operation is complete, so this
 *    returns at once with the HRESULT and result document; then close the op.
 *
 * On timeout the operation is cancelled (HcsCancelOperation) and the caller
 * rejected with ETIMEOUT, but the handle is closed only once HCS reports
 * completion: hcsshim found that freeing handles of in-flight calls crashes
 * computecore.dll. If HCS never completes it within the grace period, the
 * handle is leaked on purpose (and logged) rather than closed under HCS.
 */
import type { Logger } from '../../log.js';
import { LcowError, asError } from '../../errors.js';
import { callAsync } from './native/call-async.js';
import { completionRouter } from './native/callbacks.js';
import type { Handle } from './native/computecore.js';
import { holdEventLoop } from './native/keepalive.js';
import type { NativeHcs } from './native/load.js';
import { takeWideString } from './native/wide-string.js';
import { failed, hresultError, hresultHex } from './hresult.js';

export interface RunOptions {
  timeoutMs: number;
  /** Added to any error's context (vmId, resource path …). */
  context?: Record<string, unknown>;
  /** Aborted when the VM stops: the operation is cancelled like a timed-out one. */
  signal?: AbortSignal;
}

export interface OperationOutcome {
  document: string | null;
}

export interface OperationRunnerOptions {
  logger: Logger;
  /** How long a cancelled operation may take to report completion before its handle is abandoned. */
  cancelGraceMs?: number;
}

export class OperationRunner {
  private readonly grace: number;

  constructor(
    private readonly native: NativeHcs,
    private readonly opts: OperationRunnerOptions,
  ) {
    this.grace = opts.cancelGraceMs ?? 60_000;
  }

  async run(name: string, start: (op: Handle) => Promise<number>, o: RunOptions): Promise<OperationOutcome> {
    const { cc } = this.native;
    const router = completionRouter();
    let signal!: () => void;
    const completed = new Promise<void>((resolve) => (signal = resolve));
    // Runs on the main thread inside koffi's relay: defer the rest so the HCS thread is released first.
    const id = router.add(() => setImmediate(signal));
    const op = cc.HcsCreateOperation(id, router.pointer);
    if (op === null || op === 0n) {
      router.delete(id);
      throw new LcowError('EHCS', 'HcsCreateOperation returned NULL', { ...o.context, operation: name });
    }
    const release = holdEventLoop();
    const forget = (): void => {
      router.delete(id);
      release();
    };
    const finish = (): void => {
      cc.HcsCloseOperation(op);
      forget();
    };

    let hr: number;
    try {
      hr = await start(op);
    } catch (err) {
      finish();
      throw new LcowError('EHCS', `${name} could not be called`, { ...o.context, operation: name }, { cause: asError(err) });
    }
    if (failed(hr)) {
      finish(); // never started: nothing will complete it
      throw hresultError(hr, name, o.context);
    }

    const outcome = await waitCompletion(completed, o.timeoutMs, o.signal);
    if (outcome !== 'done') {
      const cancelHr = await callAsync(cc.HcsCancelOperation, op).catch(() => -1);
      this.closeWhenDone(name, op, completed, { finish, forget }, o);
      if (outcome === 'aborted') {
        throw new LcowError('EVMSTOPPED', `${name} abandoned: the VM stopped`, { ...o.context, operation: name, cancelHresult: hresultHex(cancelHr) });
      }
      throw new LcowError('ETIMEOUT', `${name} did not complete within ${o.timeoutMs} ms; cancelled`, {
        ...o.context,
        operation: name,
        timeoutMs: o.timeoutMs,
        cancelHresult: hresultHex(cancelHr),
      });
    }
    try {
      return this.collect(name, op, o);
    } finally {
      finish();
    }
  }

  /** Result of a completed operation (returns at once: timeout 0). */
  private collect(name: string, op: Handle, o: RunOptions): OperationOutcome {
    const { cc, free } = this.native;
    const doc: [bigint | null] = [null];
    const hr = cc.HcsWaitForOperationResult(op, 0, doc);
    const document = takeWideString(doc[0], free);
    if (failed(hr)) throw hresultError(hr, name, o.context, document);
    return { document };
  }

  private closeWhenDone(name: string, op: Handle, completed: Promise<void>, end: { finish: () => void; forget: () => void }, o: RunOptions): void {
    const log = this.opts.logger;
    const { finish, forget } = end;
    let abandoned = false;
    const abandon = setTimeout(() => {
      log.error({ operation: name, ...o.context }, 'cancelled HCS operation never completed; its handle is abandoned');
      abandoned = true;
      forget();
    }, this.grace);
    void completed.then(() => {
      clearTimeout(abandon);
      if (abandoned) return;
      try {
        this.collect(name, op, o); // frees the result document
      } catch (err) {
        log.debug({ operation: name, err }, 'cancelled operation finished');
      }
      finish();
    });
  }
}

/** Whether p settles (resolves) within ms; the timer is cleared either way, so it never holds the process. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return (await waitCompletion(p, ms)) === 'done';
}

function waitCompletion(p: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<'done' | 'timeout' | 'aborted'> {
  if (signal?.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const settle = (how: 'done' | 'timeout' | 'aborted'): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
      resolve(how);
    };
    const onAbort = (): void => settle('aborted');
    const t = setTimeout(() => settle('timeout'), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    void p.then(() => settle('done'));
  });
}
