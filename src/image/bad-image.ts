import { LcowError } from '../errors.js';

/** The importer's one failure for an archive or layer that is not what it claims: EBADIMAGE. */
export function badImage(message: string, context: Record<string, unknown>, cause?: unknown): LcowError {
  return new LcowError('EBADIMAGE', message, context, cause === undefined ? undefined : { cause });
}
