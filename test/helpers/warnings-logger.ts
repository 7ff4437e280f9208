/** A Logger that keeps the messages of its warnings (and drops the rest), for tests that assert what was warned. */
import type { Logger } from '../../src/log.js';

export function warningsLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = {
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: (_: unknown, msg?: string) => void warnings.push(msg ?? ''),
    error: () => undefined,
    fatal: () => undefined,
    child: () => logger,
  };
  return { logger, warnings };
}
