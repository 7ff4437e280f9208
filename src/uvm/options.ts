/**
 * UtilityVM options: defaults and the checks hcsshim's VerifyOptions makes,
 * done before anything is created so a bad option never leaves a VM behind.
 */
import { availableParallelism } from 'node:os';
import { LcowError } from '../errors.js';
import type { BootSpec, HypervisorBackend } from '../backend/index.js';
import type { Logger } from '../log.js';
import type { HostFiles } from './host-files.js';
import { MAX_SCSI_CONTROLLERS } from './scsi/attach-manager.js';
import { DEFAULT_VPMEM_DEVICES, DEFAULT_VPMEM_MAX_SIZE, MAX_VPMEM_DEVICES } from './vpmem/manager.js';

export interface UtilityVMOptions {
  /** Unique VM id (logs, socket names, HCS system id). */
  id: string;
  /** The hypervisor; default: the backend module's default backend, when it names one. */
  backend?: HypervisorBackend;
  /** Guest memory, MiB (default 1024). */
  memoryMiB?: number;
  /** Virtual processors (default 2, at most the host's). */
  cpus?: number;
  /** SCSI controllers, 1..4 (default 4), 64 LUNs each. */
  scsiControllers?: number;
  /** VPMEM devices: count 0..128 (default 64; 0 disables), maxSizeBytes a multiple of 4096 (default 4 GiB). */
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

export function resolveOptions(o: UtilityVMOptions): ResolvedOptions {
  if (typeof o.id !== 'string' || o.id.length === 0 || /[\s/\\\0]/.test(o.id)) {
    throw new LcowError('EINVAL', 'a utility VM needs a non-empty id without spaces or slashes', { id: o.id });
  }
  const memoryMiB = integerIn('memoryMiB', o.memoryMiB ?? 1024, 64, 1024 * 1024);
  const cpus = integerIn('cpus', o.cpus ?? Math.min(2, availableParallelism()), 1, 1024);
  const scsiControllers = integerIn('scsiControllers', o.scsiControllers ?? MAX_SCSI_CONTROLLERS, 1, MAX_SCSI_CONTROLLERS);
  const count = integerIn('vpmem.count', o.vpmem?.count ?? DEFAULT_VPMEM_DEVICES, 0, MAX_VPMEM_DEVICES);
  const maxSizeBytes = o.vpmem?.maxSizeBytes ?? DEFAULT_VPMEM_MAX_SIZE;
  if (!Number.isSafeInteger(maxSizeBytes) || maxSizeBytes <= 0 || maxSizeBytes % 4096 !== 0) {
    throw bad('vpmem.maxSizeBytes', maxSizeBytes, 'must be a positive multiple of 4096');
  }
  return { id: o.id, memoryMiB, cpus, scsiControllers, vpmem: { count, maxSizeBytes } };
}
