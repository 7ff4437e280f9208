/**
 * Placing one read-only layer: VPMEM first (DAX, no page-cache copy, no SCSI
 * slot used), SCSI read-only when the VPMEM manager answers why it cannot
 * take the file. Any error — the file is missing, the VM stopped, the guest
 * failed to mount — is the caller's problem and is not papered over.
 */
import type { ScsiManager } from './scsi/manager.js';
import type { VpmemFallbackReason, VpmemManager } from './vpmem/manager.js';

export interface LayerMount {
  readonly hostPath: string;
  /** What the union takes as a lower dir: the layer's read-only mount (a read-write layer's: its upper dir in it). */
  readonly guestPath: string;
  readonly placement: 'vpmem' | 'scsi';
  /** Set when a layer.vhd went to SCSI: why VPMEM did not take it (a read-write layer's sandbox is always SCSI). */
  readonly fallbackReason: VpmemFallbackReason | undefined;
  readonly released: boolean;
  release(): Promise<void>;
}

export async function addReadOnlyLayer(managers: { scsi: ScsiManager; vpmem: VpmemManager }, hostPath: string): Promise<LayerMount> {
  const vpmem = await managers.vpmem.tryAdd(hostPath);
  if ('device' in vpmem) {
    const dev = vpmem.device;
    return {
      hostPath,
      guestPath: dev.guestPath,
      placement: 'vpmem',
      fallbackReason: undefined,
      get released() {
        return dev.released;
      },
      release: () => dev.release(),
    };
  }
  const disk = await managers.scsi.add(hostPath, { readOnly: true, mount: {} });
  return {
    hostPath,
    guestPath: disk.guestPath as string,
    placement: 'scsi',
    fallbackReason: vpmem.fallback,
    get released() {
      return disk.released;
    },
    release: () => disk.release(),
  };
}
