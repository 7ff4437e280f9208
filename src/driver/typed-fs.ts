/**
 * The driver's promise that every file-system failure reaches the engine as
 * an LcowError with a code: a raw Node system error (it carries a `syscall`)
 * escaping a verb — ENOSPC from a sandbox or a template on a full disk,
 * EACCES, EROFS … — becomes one through hostFsError (ENOENT → ENOTFOUND,
 * the rest EIO with `errno`), naming the verb and the layer.
 */
import { hostFsError, isSystemError } from '../errors.js';

export async function typedFs<T>(verb: string, context: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isSystemError(err) ? hostFsError(err, `${verb} failed`, { verb, ...context }) : err;
  }
}
