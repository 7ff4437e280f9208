/**
 * Logging: the library never prints. Every component takes an optional pino
 * logger and derives a child with its bindings ({component, vmId, layerId}).
 * With none given, logs go nowhere (level 'silent').
 */
import { pino, type Logger } from 'pino';

export type { Logger };

let fallback: Logger | undefined;

/** The logger used when a caller gives none: silent unless LCOW_LOG_LEVEL is set (then to stderr). */
export function defaultLogger(): Logger {
  if (!fallback) {
    const level = process.env.LCOW_LOG_LEVEL;
    fallback = level ? pino({ level }, pino.destination(2)) : pino({ level: 'silent' });
  }
  return fallback;
}

export function componentLogger(parent: Logger | undefined, component: string, bindings: Record<string, unknown> = {}): Logger {
  return (parent ?? defaultLogger()).child({ component, ...bindings });
}
