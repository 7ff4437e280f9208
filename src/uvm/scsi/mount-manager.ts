/**
 * Guest mounts of attached SCSI disks, ref-counted apart from attachments
 * (one attachment may be mounted twice with different options, and a mount
 * goes away before its attachment does).
 *
 * Two requests are the same mount when (controller, LUN, read-only, fs type,
 * options — sorted) agree. A shared mount keeps its first guest path even if
 * a later caller asked for another: callers use the handle's `guestPath`.
 */
import type { GuestOps } from '../../backend/index.js';
import type { MountPoints } from '../mount-points.js';
import { RefTable, type RefEntry } from '../ref-table.js';
import type { VmGuard } from '../vm-guard.js';

/** Guest side: mount and unmount. */
export type Mounter = Pick<GuestOps, 'mountScsi' | 'unmount'>;

export interface MountConfig {
  readOnly: boolean;
  /** Extra mount options (e.g. 'noload'); never a shell fragment. */
  options?: string[];
  /** File system type; default ext4. */
  fsType?: string;
  /** Mount here instead of a generated short path; EMOUNTCONFLICT if taken. */
  guestPath?: string;
}

export interface GuestMount {
  readonly controller: number;
  readonly lun: number;
  readonly guestPath: string;
}

export class MountManager {
  private readonly table = new RefTable<GuestMount>();

  constructor(
    private readonly mounter: Mounter,
    private readonly paths: MountPoints,
    private readonly guard: VmGuard,
  ) {}

  mount(controller: number, lun: number, config: MountConfig): Promise<RefEntry<GuestMount>> {
    const options = [...(config.options ?? [])].sort();
    const fsType = config.fsType ?? 'ext4';
    const key = JSON.stringify([controller, lun, config.readOnly, fsType, options]);
    return this.table.acquire(key, async () => {
      const owner = `scsi ${controller}:${lun}`;
      let guestPath: string;
      if (config.guestPath !== undefined) {
        this.paths.claim(config.guestPath, owner);
        guestPath = config.guestPath;
      } else {
        guestPath = this.paths.allocate(owner);
      }
      try {
        await this.guard.do('mountScsi', () => this.mounter.mountScsi({ controller, lun, guestPath, readOnly: config.readOnly, options, fsType }));
      } catch (err) {
        this.paths.free(guestPath);
        throw err;
      }
      return { controller, lun, guestPath };
    });
  }

  unmount(entry: RefEntry<GuestMount>): Promise<void> {
    return this.table.release(entry, async (m) => {
      await this.guard.undo('unmount', () => this.mounter.unmount(m.guestPath));
      this.paths.free(m.guestPath);
    });
  }

  get size(): number {
    return this.table.size;
  }
}
