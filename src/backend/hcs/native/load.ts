/**
 * Where the DLLs are, and loading them once. Nothing here runs at import:
 * koffi.load happens only when a VM is created (on win32), or when a caller
 * passes explicit paths (tests load a stand-in library on Linux this way).
 */
import path from 'node:path';
import { LcowError } from '../../../errors.js';
import { loadComputeCore, type ComputeCoreApi } from './computecore.js';
import { loadKernel32, type Kernel32Api } from './kernel32.js';
import type { FreeFn } from './wide-string.js';

export interface HcsLibraryPaths {
  computecore: string;
  /** Exports LocalFree and CloseHandle. */
  kernel32: string;
  virtdisk: string;
  /** Winsock, for the hvsockets to the guest; loaded by the hvsock worker only. Off Windows only when given. */
  ws2_32?: string;
}

/**
 * Full System32 paths: koffi tries LoadLibraryW(name) first, and a bare name
 * would let a DLL in the current directory win.
 */
export function systemLibraryPaths(env: NodeJS.ProcessEnv = process.env): HcsLibraryPaths {
  const sys32 = path.win32.join(env.SystemRoot ?? env.windir ?? 'C:\\Windows', 'System32');
  return {
    computecore: path.win32.join(sys32, 'computecore.dll'),
    kernel32: path.win32.join(sys32, 'kernel32.dll'),
    virtdisk: path.win32.join(sys32, 'virtdisk.dll'),
    ws2_32: path.win32.join(sys32, 'ws2_32.dll'),
  };
}

export function hcsUnavailableError(platform: string = process.platform): LcowError {
  return new LcowError(
    'EPLATFORM',
    `HCS is not available on this platform (${platform}): the hcs backend needs Windows with the Hyper-V Host Compute Service; use the qemu backend here`,
    { platform, backend: 'hcs' },
  );
}

/**
 * Library paths for this process: explicit ones as given (any platform),
 * otherwise System32 on win32 and EPLATFORM elsewhere.
 */
export function resolveLibraryPaths(explicit?: Partial<HcsLibraryPaths>, platform: string = process.platform): HcsLibraryPaths {
  if (explicit?.computecore) {
    const sys = platform === 'win32' ? systemLibraryPaths() : undefined;
    const kernel32 = explicit.kernel32 ?? sys?.kernel32;
    const virtdisk = explicit.virtdisk ?? sys?.virtdisk;
    if (!kernel32 || !virtdisk) {
      throw new LcowError('EINVAL', 'with an explicit computecore path off Windows, kernel32 and virtdisk paths are needed too', { explicit });
    }
    const ws2_32 = explicit.ws2_32 ?? sys?.ws2_32;
    return { computecore: explicit.computecore, kernel32, virtdisk, ...(ws2_32 ? { ws2_32 } : {}) };
  }
  if (platform !== 'win32') throw hcsUnavailableError(platform);
  return { ...systemLibraryPaths(), ...explicit };
}

export interface NativeHcs {
  readonly paths: HcsLibraryPaths;
  readonly cc: ComputeCoreApi;
  readonly k32: Kernel32Api;
  /** Frees a string HCS returned (LocalFree). */
  readonly free: FreeFn;
}

const loaded = new Map<string, NativeHcs>();

/** Load (once per computecore path) the two libraries every HCS call needs. */
export function loadNativeHcs(paths: HcsLibraryPaths): NativeHcs {
  const key = `${paths.computecore}\0${paths.kernel32}`;
  let n = loaded.get(key);
  if (!n) {
    const cc = loadComputeCore(paths.computecore);
    const k32 = loadKernel32(paths.kernel32);
    n = { paths, cc, k32, free: (p) => void k32.LocalFree(p) };
    loaded.set(key, n);
  }
  return n;
}
