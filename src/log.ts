/**
 * Logging: the library never prints. Every component takes an optional
 * logger (a pino logger, or anything of its shape) and derives a child with
 * its bindings ({component, vmId, layerId}). With none given, logs go
 * nowhere.
 *
 * pino itself is loaded only when something is going to be written
 * (LCOW_LOG_LEVEL set): importing it costs ~8 MiB of resident memory, a
 * sixth of the whole converter's budget, for a library that is silent by
 * default.
 */
import { createRequire } from 'node:module';
import type { LogFn, Logger as PinoLogger } from 'pino';

/** The part of pino's Logger the library uses; every pino logger is one. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const ignore: LogFn = () => undefined;

/** Drops everything; children are itself, so deriving one costs nothing. */
export const silentLogger: Logger = {
  trace: ignore,
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  fatal: ignore,
  child: () => silentLogger,
};

let fallback: Logger | undefined;

/** The logger used when a caller gives none: silent unless LCOW_LOG_LEVEL is set (then pino to stderr). */
export function defaultLogger(): Logger {
  if (!fallback) {
    const level = process.env.LCOW_LOG_LEVEL;
    if (level && level !== 'silent') {
      const { pino } = createRequire(import.meta.url)('pino') as { pino: typeof import('pino').pino };
      fallback = pino({ level }, pino.destination(2)) satisfies PinoLogger;
    } else {
      fallback = silentLogger;
    }
  }
  return fallback;
}

export function componentLogger(parent: Logger | undefined, component: string, bindings: Record<string, unknown> = {}): Logger {
  return (parent ?? defaultLogger()).child({ component, ...bindings });
}
