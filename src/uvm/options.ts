/**
 * UtilityVM options: defaults and the checks hcsshim's VerifyOptions makes,
 * done before anything is created so a bad option never leaves a VM behind.
 */
import { availableParallelism } from 'node:os';
import { LcowError } from '../errors.js';
import { LCOW_LIMITS, VPMEM_SIZE_ALIGNMENT, type BootSpec, type HypervisorBackend } from '../backend/index.js';
import type { Logger } from '../log.js';
import type { HostFiles } from './host-files.js';
import { DEFAULT_VPMEM_DEVICES, DEFAULT_VPMEM_MAX_SIZE } from './vpmem/manager.js';

export interface UtilityVMOptions {
  /** Unique VM id (logs, socket names, HCS system id). */
  id: string;
  /** The hypervisor; default: selectBackend('auto'). Its `limits` bound the options below. */
  backend?: HypervisorBackend;
  /** Guest memory, MiB (default 1024). */
  memoryMiB?: number;
  /** Virtual processors (default 2, at most the host's). */
  cpus?: number;
  /** SCSI controllers, 1 up to the backend's (default: all of them; 4 on every backend today). */
  scsiControllers?: number;
  /**
   * VPMEM devices: count from 0 (disables VPMEM) up to the backend's (default
   * 64), maxSizeBytes a multiple of 4096 up to the backend's (default 4 GiB).
   */
  vpmem?: { count?: number; maxSizeBytes?: number };
  /** Default: backend.defaultBoot(). */
  boot?: BootSpec;
  kernelArgs?: string;
  /** Per-request time limit for guest operations, ms (default: the backend's). */
  operationTimeoutMs?: number;
  logger?: Logger;
  /** How layer file sizes are read (default: node:fs). */
  hostFiles?: HostFiles;
}

export interface ResolvedOptions {
  id: string;
  memoryMiB: number;
  cpus: number;
  scsiControllers: number;
  vpmem: { count: number; maxSizeBytes: number };
}

function bad(option: string, value: unknown, rule: string): LcowError {
  return new LcowError('EBADOPTION', `utility VM option ${option}=${String(value)}: ${rule}`, { option, value });
}

function integerIn(option: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw bad(option, value, `must be an integer from ${min} to ${max}`);
  return value;
}

/**
 * Defaults and checks against the limits of `o.backend`. Without a backend
 * (the driver checking its options before it loads one) the LCOW limits,
 * which every backend has or narrows, are the bound.
 */
export function resolveOptions(o: UtilityVMOptions): ResolvedOptions {
  if (typeof o.id !== 'string' || o.id.length === 0 || /[\s/\\\0]/.test(o.id)) {
    throw new LcowError('EINVAL', 'a utility VM needs a non-empty id without spaces or slashes', { id: o.id });
  }
  const limits = o.backend?.limits ?? LCOW_LIMITS;
  const memoryMiB = integerIn('memoryMiB', o.memoryMiB ?? 1024, 64, 1024 * 1024);
  const cpus = integerIn('cpus', o.cpus ?? Math.min(2, availableParallelism()), 1, 1024);
  const scsiControllers = integerIn('scsiControllers', o.scsiControllers ?? limits.scsiControllers, 1, limits.scsiControllers);
  const count = integerIn('vpmem.count', o.vpmem?.count ?? Math.min(DEFAULT_VPMEM_DEVICES, limits.vpmemDevices), 0, limits.vpmemDevices);
  const maxSizeBytes = o.vpmem?.maxSizeBytes ?? Math.min(DEFAULT_VPMEM_MAX_SIZE, limits.vpmemMaxSizeBytes);
  if (!Number.isSafeInteger(maxSizeBytes) || maxSizeBytes <= 0 || maxSizeBytes % VPMEM_SIZE_ALIGNMENT !== 0 || maxSizeBytes > limits.vpmemMaxSizeBytes) {
    throw bad('vpmem.maxSizeBytes', maxSizeBytes, `must be a positive multiple of ${VPMEM_SIZE_ALIGNMENT}, at most ${limits.vpmemMaxSizeBytes}`);
  }
  return { id: o.id, memoryMiB, cpus, scsiControllers, vpmem: { count, maxSizeBytes } };
}
