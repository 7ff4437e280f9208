/**
 * Driver options: the engine's `key=value` storage options, parsed once at
 * `LcowDriver.open`.
 *
 * Like the reference, keys are case-insensitive, split on the first `=`, the
 * last occurrence of a key wins, and unknown keys are ignored (with a log
 * line, so a typo is visible). Unlike it, every bad value is an
 * `EBADOPTION` error whose context names the option and the value, and a
 * known key written without `=value` is an error too (it is a typo of
 * something, never a request for the default).
 */
import { LcowError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DriverBackend } from './driver-backend.js';

/** The default sandbox size in GB, and the smallest allowed. */
export const DEFAULT_SANDBOX_SIZE_GB = 20;
/** The VHDX format's limit: 64 TiB. */
export const MAX_SANDBOX_SIZE_GB = 64 * 1024;
/** Guest-operation time limit when none is given (or 0 is given — the reference's meaning of 0). */
export const DEFAULT_TIMEOUT_SECONDS = 300;

export interface LcowOptions {
  /** `lcow.globalmode`: one shared service VM instead of one per layer. */
  globalMode: boolean;
  /** `lcow.sandboxsize` in GB (≥ 20): the size `createReadWrite` uses when it is given none. */
  sandboxSizeGB: number;
  /** `lcow.kirdpath`: the folder holding kernel and initrd. */
  kirdPath?: string;
  /** `lcow.kernel`: kernel file name (in kirdpath) or absolute path. */
  kernel?: string;
  /** `lcow.initrd`: initrd file name (in kirdpath) or absolute path. */
  initrd?: string;
  /** `lcow.bootparameters`: extra kernel command-line parameters. */
  bootParameters?: string;
  /** `lcow.vhdx`: a root-file-system image to boot instead of the initrd. */
  vhdx?: string;
  /** `lcow.timeout` in seconds: the limit for one service-VM operation. */
  timeoutSeconds: number;
}

const KNOWN = [
  'lcow.globalmode',
  'lcow.sandboxsize',
  'lcow.kirdpath',
  'lcow.kernel',
  'lcow.initrd',
  'lcow.bootparameters',
  'lcow.vhdx',
  'lcow.timeout',
] as const;
type Key = (typeof KNOWN)[number];

const bad = (option: string, value: string | undefined, why: string): LcowError =>
  new LcowError('EBADOPTION', `bad value ${value === undefined ? '(none)' : JSON.stringify(value)} for option '${option}': ${why}`, { option, value });

/** strconv.ParseBool's spellings, which engine configs written for moby use. */
function parseBool(option: string, value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw bad(option, value, "must be 'true' or 'false'");
}

/** A whole number of decimal digits (no sign, no fraction, no exponent, no blanks). */
function parseWhole(option: string, value: string, what: string): number {
  if (!/^[0-9]+$/.test(value)) throw bad(option, value, `must be ${what}`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw bad(option, value, `must be ${what}`);
  return n;
}

/** Sandbox size in GB: ≥ 20 (the reference's floor) and ≤ the VHDX limit. Shared with createReadWrite's per-call option. */
export function parseSandboxSizeGB(value: string, option = 'lcow.sandboxsize'): number {
  const n = parseWhole(option, value, 'a whole number of GB');
  if (n < DEFAULT_SANDBOX_SIZE_GB) throw bad(option, value, `cannot be less than ${DEFAULT_SANDBOX_SIZE_GB} GB`);
  if (n > MAX_SANDBOX_SIZE_GB) throw bad(option, value, `cannot be more than ${MAX_SANDBOX_SIZE_GB} GB (the VHDX limit)`);
  return n;
}

function nonEmpty(option: string, value: string): string {
  if (value.trim() === '') throw bad(option, value, 'must not be empty');
  if (value.includes('\0')) throw bad(option, value, 'must not contain NUL');
  return value;
}

/** Kernel command-line text: one line, printable (it is handed to the backend as one argument). */
function bootParameters(option: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) throw bad(option, value, 'must be printable text on one line');
  return value.trim();
}

/**
 * Everything `LcowDriver.open` takes: the engine's `key=value` strings plus
 * what only an embedding program can pass (objects, callbacks).
 */
export interface LcowDriverOpenOptions {
  /** Storage options, `key=value` (parsed by parseLcowOptions above). */
  options?: readonly string[];
  /** The hypervisor: a backend object, or a name for selectBackend (default 'auto'). */
  backend?: DriverBackend;
  logger?: Logger;
  /** Service VMs booting at once (default 2). */
  maxParallelStarts?: number;
  /**
   * Service VM size (default 512 MiB, 1 CPU) and VPMEM devices (default the
   * UtilityVM's: 64 of up to 4 GiB). On QEMU the slots sit behind ACPI
   * hot-plug PCI bridges (31 each), which cost a boot little, and service VMs
   * start from a template of their shape anyway; layers past the count go to SCSI.
   */
  serviceVm?: { memoryMiB?: number; cpus?: number; vpmem?: { count?: number; maxSizeBytes?: number } };
  /** Called each time a service VM is created (for diagnostics and tests). */
  onServiceVmCreate?: (vmId: string) => void;
}

export function defaultLcowOptions(): LcowOptions {
  return { globalMode: false, sandboxSizeGB: DEFAULT_SANDBOX_SIZE_GB, timeoutSeconds: DEFAULT_TIMEOUT_SECONDS };
}

/** Parse `key=value` strings. Throws EBADOPTION for the first bad value. */
export function parseLcowOptions(entries: readonly string[], logger?: Logger): LcowOptions {
  const opts = defaultLcowOptions();
  for (const raw of entries) {
    const eq = raw.indexOf('=');
    const key = (eq < 0 ? raw : raw.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : raw.slice(eq + 1);
    if (!(KNOWN as readonly string[]).includes(key)) {
      logger?.warn({ option: raw }, 'ignoring unknown driver option');
      continue;
    }
    if (value === undefined) throw bad(key, value, 'expected key=value');
    apply(opts, key as Key, value);
  }
  return opts;
}

function apply(opts: LcowOptions, key: Key, value: string): void {
  switch (key) {
    case 'lcow.globalmode':
      opts.globalMode = parseBool(key, value);
      return;
    case 'lcow.sandboxsize':
      opts.sandboxSizeGB = parseSandboxSizeGB(value, key);
      return;
    case 'lcow.kirdpath':
      opts.kirdPath = nonEmpty(key, value);
      return;
    case 'lcow.kernel':
      opts.kernel = nonEmpty(key, value);
      return;
    case 'lcow.initrd':
      opts.initrd = nonEmpty(key, value);
      return;
    case 'lcow.bootparameters':
      opts.bootParameters = bootParameters(key, value);
      return;
    case 'lcow.vhdx':
      opts.vhdx = nonEmpty(key, value);
      return;
    case 'lcow.timeout': {
      // 0 keeps the reference's meaning: "use the default", not "no limit" —
      // a hung guest must never hang the engine forever.
      const n = parseWhole(key, value, 'a whole number of seconds (0 = the default 300)');
      opts.timeoutSeconds = n === 0 ? DEFAULT_TIMEOUT_SECONDS : n;
      return;
    }
  }
}
