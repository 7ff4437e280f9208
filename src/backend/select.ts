/**
 * Picks the hypervisor backend. 'auto' is HCS on Windows and QEMU elsewhere.
 * Both are imported lazily, so a caller of one never evaluates the other's
 * modules; and the HCS module loads no DLL until a VM is created.
 */
import { LcowError } from '../errors.js';
import type { HcsBackendOptions } from './hcs/index.js';
import type { QemuBackendOptions } from './qemu/index.js';
import type { HypervisorBackend } from './types.js';

export type BackendChoice = 'auto' | 'qemu' | 'hcs';

export interface SelectBackendOptions {
  hcs?: HcsBackendOptions;
  qemu?: QemuBackendOptions;
  /** For tests: the platform 'auto' decides on (default process.platform). */
  platform?: NodeJS.Platform;
}

/** The backend 'auto' resolves to on a platform. */
export function resolveBackendChoice(name: BackendChoice, platform: NodeJS.Platform = process.platform): 'qemu' | 'hcs' {
  if (name === 'auto') return platform === 'win32' ? 'hcs' : 'qemu';
  if (name === 'qemu' || name === 'hcs') return name;
  throw new LcowError('EINVAL', `unknown backend ${String(name)} (auto, qemu or hcs)`, { backend: name });
}

export async function selectBackend(name: BackendChoice, options: SelectBackendOptions = {}): Promise<HypervisorBackend> {
  const platform = options.platform ?? process.platform;
  if (resolveBackendChoice(name, platform) === 'hcs') {
    const { HcsBackend } = await import('./hcs/index.js');
    // Constructing is free everywhere; off Windows createVm rejects with EPLATFORM.
    return new HcsBackend({ platform, ...options.hcs });
  }
  const { QemuBackend } = await import('./qemu/index.js');
  return new QemuBackend(options.qemu);
}
