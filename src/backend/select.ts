/**
 * Picks the hypervisor backend. 'auto' is HCS on Windows and QEMU elsewhere.
 * Both are imported lazily so that neither backend's module (nor koffi's
 * DLL loading) runs for a caller that uses the other one.
 */
import { LcowError } from '../errors.js';
import type { HcsBackendOptions } from './hcs/backend.js';
import type { HypervisorBackend } from './types.js';

export type BackendChoice = 'auto' | 'qemu' | 'hcs';

export interface SelectBackendOptions {
  hcs?: HcsBackendOptions;
  /** Passed through to the QEMU backend's constructor/factory. */
  qemu?: Record<string, unknown>;
  platform?: NodeJS.Platform;
}

interface QemuModule {
  createQemuBackend?: (options?: Record<string, unknown>) => HypervisorBackend | Promise<HypervisorBackend>;
  QemuBackend?: new (options?: Record<string, unknown>) => HypervisorBackend;
}

// A variable specifier: the QEMU module is resolved at run time only.
const QEMU_MODULE = './qemu/index.js';

export async function selectBackend(name: BackendChoice, options: SelectBackendOptions = {}): Promise<HypervisorBackend> {
  const platform = options.platform ?? process.platform;
  const chosen = name === 'auto' ? (platform === 'win32' ? 'hcs' : 'qemu') : name;
  if (chosen === 'hcs') {
    const { HcsBackend } = await import('./hcs/backend.js');
    return new HcsBackend({ platform, ...options.hcs });
  }
  if (chosen !== 'qemu') throw new LcowError('EINVAL', `unknown backend ${String(name)}`, { backend: name });
  const mod = (await import(QEMU_MODULE)) as QemuModule;
  if (mod.createQemuBackend) return mod.createQemuBackend(options.qemu);
  if (mod.QemuBackend) return new mod.QemuBackend(options.qemu);
  throw new LcowError('EUNSUPPORTED', 'the qemu backend module exports neither createQemuBackend nor QemuBackend', { backend: 'qemu' });
}
