/**
 * Typed errors shared by every layer of the library.
 *
 * Callers branch on `err.code`, never on `err.message`. `context` carries the
 * operation's particulars (entry name, VM id, slot, option name …) so that a
 * log line or an engine's error report needs no string parsing either.
 */

export type LcowErrorCode =
  // input / format
  | 'EBADTAR' // malformed or unsafe tar entry
  | 'ETOOBIG' // a size past a configured or format maximum
  | 'EBADIMAGE' // an ext4 / VHD / VHDX image that does not parse or validate
  | 'EUNSUPPORTED' // valid input using a feature this code does not handle
  | 'EBADOPTION' // a driver/VM option with a bad value
  | 'EINVAL' // a bad argument to an API call
  // resources and state
  | 'ENOSLOT' // no free SCSI/VPMEM slot
  | 'EALREADYRELEASED' // a handle released twice
  | 'ENOTFOUND' // no such layer / VM / file / mount
  | 'EEXIST' // already exists
  | 'EBUSY' // in use (e.g. removing a mounted layer)
  | 'EMOUNTCONFLICT' // guest path already used by another mount
  // VM lifecycle
  | 'EVMTERMINATING' // service VM is shutting down
  | 'EVMSTOPPED' // the VM exited (or was killed) while a call was pending
  | 'EVMSTART' // the VM failed to start / never became ready
  | 'ETIMEOUT' // an operation exceeded its time limit
  | 'ECANCELED' // the caller aborted the operation (AbortSignal); partial output was removed
  // transport / guest
  | 'EQMP' // QEMU monitor returned an error
  | 'EGUEST' // guest agent / guest command failure
  | 'EGCS' // the guest compute service refused a bridge request (context: hresult, name, errorMessage, errorRecords)
  | 'EBRIDGE' // the GCS bridge connection broke: a malformed frame, or the peer hung up (context.reason)
  | 'EEXEC' // a guest process exited non-zero where success was required
  | 'EHCS' // an HCS call failed (HRESULT in context)
  | 'EHVSOCK' // a Winsock call on an hvsocket failed (context: call, wsaError, name)
  | 'EPLATFORM' // the backend cannot run on this OS
  | 'EHOSTDEPS' // a host program/package is missing
  | 'EIO'; // host file-system failure

export class LcowError extends Error {
  readonly code: LcowErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: LcowErrorCode, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LcowError';
    this.code = code;
    this.context = context;
  }
}

/** True when `err` is an LcowError, optionally of one of the given codes. */
export function isLcowError(err: unknown, ...codes: LcowErrorCode[]): err is LcowError {
  return err instanceof LcowError && (codes.length === 0 || codes.includes(err.code));
}

/** Narrow an unknown throw into an Error (for `cause` and logging). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A failed system call (Node's errno errors carry `syscall`): the host's failure, not the caller's input or a bug. */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * A host file-system failure (a Node errno error) as an LcowError: ENOENT is
 * ENOTFOUND, every other errno EIO, with the errno itself in the context
 * (`errno: 'ENOSPC'` for a full disk) so a caller can tell them apart without
 * reading the message. An LcowError passes through unchanged.
 */
export function hostFsError(err: unknown, message: string, context: Record<string, unknown> = {}): LcowError {
  if (err instanceof LcowError) return err;
  const e = asError(err) as NodeJS.ErrnoException;
  const code = e.code === 'ENOENT' ? 'ENOTFOUND' : 'EIO';
  return new LcowError(code, `${message}: ${e.message}`, { ...context, ...(e.code !== undefined ? { errno: e.code } : {}) }, { cause: e });
}
