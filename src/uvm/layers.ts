/**
 * Placing one read-only layer: VPMEM first (DAX, no page-cache copy, no SCSI
 * slot used), SCSI read-only when VPMEM refuses for a reason we can do
 * something about. Any other error — the file is missing, the VM stopped, the
 * guest failed to mount — is the caller's problem and is not papered over.
 */
import { isLcowError } from '../errors.js';
import type { ScsiManager } from './scsi/manager.js';
import type { VpmemManager } from './vpmem/manager.js';

/** Why a layer went to SCSI rather than VPMEM. */
export type VpmemFallbackReason = 'vpmem-disabled' | 'vpmem-full' | 'vpmem-too-large' | 'vpmem-unsuitable';

export interface LayerMount {
  readonly hostPath: string;
  /** Read-only mount of the layer in the guest. */
  readonly guestPath: string;
  readonly placement: 'vpmem' | 'scsi';
  /** Set when placement is 'scsi' because VPMEM refused. */
  readonly fallbackReason: VpmemFallbackReason | undefined;
  readonly released: boolean;
  release(): Promise<void>;
}

/** The VPMEM refusal that sends a layer to SCSI, or undefined for an error that must propagate. */
export function vpmemFallbackReason(err: unknown): VpmemFallbackReason | undefined {
  if (!isLcowError(err) || err.context.kind !== 'vpmem') return undefined; // only the VPMEM manager's refusals
  switch (err.code) {
    case 'EVPMEMUNSUITABLE':
    case 'EUNSUPPORTED':
      return 'vpmem-unsuitable';
    case 'ETOOBIG':
      return 'vpmem-too-large';
    case 'ENOSLOT':
      return err.context.count === 0 ? 'vpmem-disabled' : 'vpmem-full';
    default:
      return undefined;
  }
}

export async function addReadOnlyLayer(managers: { scsi: ScsiManager; vpmem: VpmemManager }, hostPath: string): Promise<LayerMount> {
  let reason: VpmemFallbackReason;
  try {
    const dev = await managers.vpmem.add(hostPath);
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
  } catch (err) {
    const why = vpmemFallbackReason(err);
    if (why === undefined) throw err;
    reason = why;
  }
  const disk = await managers.scsi.add(hostPath, { readOnly: true, mount: {} });
  return {
    hostPath,
    guestPath: disk.guestPath as string,
    placement: 'scsi',
    fallbackReason: reason,
    get released() {
      return disk.released;
    },
    release: () => disk.release(),
  };
}
