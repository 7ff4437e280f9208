/**
 * SCSI attachments: which disk sits at which (controller, LUN), and how many
 * handles share it. Knows nothing about guest mounts.
 *
 * Two requests are the same attachment when host path and read-only agree;
 * the same file read-only and read-write is two attachments. The free slot is
 * found and taken synchronously (one JS turn, so no lock is needed), before
 * the host call is awaited, so concurrent requests never pick the same slot.
 */
import { LcowError } from '../../errors.js';
import type { DiskFormat, HostOps, GuestOps } from '../../backend/index.js';
import { RefTable, type RefEntry } from '../ref-table.js';
import type { VmGuard } from '../vm-guard.js';

/** Host side: hot-plug and hot-remove a disk. */
export type Attacher = Pick<HostOps, 'addScsiDisk' | 'removeScsiDisk'>;
/** Guest side: let go of a device before the host removes it. */
export type Unplugger = Pick<GuestOps, 'unplugScsi'>;

export interface Attachment {
  readonly hostPath: string;
  readonly readOnly: boolean;
  readonly controller: number;
  readonly lun: number;
  /** Detach progress, so a failed detach resumes where it stopped. */
  unplugged: boolean;
}

export interface AttachManagerDeps {
  vmId: string;
  attacher: Attacher;
  unplugger: Unplugger;
  guard: VmGuard;
  controllers: number;
  /** The backend's `limits.lunsPerController`. */
  lunsPerController: number;
}

export class AttachManager {
  private readonly table = new RefTable<Attachment>();
  /** Controller-major: index = controller * luns + lun. */
  private readonly slots: (Attachment | undefined)[];
  private readonly luns: number;

  constructor(private readonly deps: AttachManagerDeps) {
    this.luns = deps.lunsPerController;
    this.slots = new Array<Attachment | undefined>(deps.controllers * this.luns).fill(undefined);
  }

  attach(hostPath: string, readOnly: boolean, format?: DiskFormat): Promise<RefEntry<Attachment>> {
    const key = JSON.stringify([hostPath, readOnly]);
    return this.table.acquire(key, async () => {
      const index = this.slots.indexOf(undefined);
      if (index < 0) {
        throw new LcowError('ENOSLOT', `no free SCSI slot for ${hostPath}`, {
          vmId: this.deps.vmId,
          kind: 'scsi',
          hostPath,
          readOnly,
          controllers: this.deps.controllers,
          lunsPerController: this.luns,
        });
      }
      const att: Attachment = { hostPath, readOnly, controller: Math.floor(index / this.luns), lun: index % this.luns, unplugged: false };
      this.slots[index] = att;
      try {
        await this.deps.guard.do('addScsiDisk', () => this.deps.attacher.addScsiDisk(att.controller, att.lun, { hostPath, readOnly, format }));
      } catch (err) {
        this.slots[index] = undefined;
        throw err;
      }
      return att;
    });
  }

  /** Drop one reference; the last one unplugs in the guest, removes on the host, then frees the slot. */
  detach(entry: RefEntry<Attachment>): Promise<void> {
    return this.table.release(entry, async (att) => {
      const { guard, unplugger, attacher } = this.deps;
      if (!att.unplugged) {
        await guard.undo('unplugScsi', () => unplugger.unplugScsi(att.controller, att.lun));
        att.unplugged = true;
      }
      await guard.undo('removeScsiDisk', () => attacher.removeScsiDisk(att.controller, att.lun));
      this.slots[att.controller * this.luns + att.lun] = undefined;
    });
  }

  /** Occupied slots (including ones being attached or detached). */
  inUse(): Attachment[] {
    return this.slots.filter((s): s is Attachment => s !== undefined);
  }
}
