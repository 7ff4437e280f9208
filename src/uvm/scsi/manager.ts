/**
 * The SCSI facade: attach (and optionally mount) a disk, get back a handle
 * that owns both and undoes both with one release(). State lives in the two
 * managers below; this file only sequences them.
 */
import type { DiskFormat } from '../../backend/index.js';
import type { Orphans } from '../orphans.js';
import { ReleaseOnce } from '../release-once.js';
import type { RefEntry } from '../ref-table.js';
import { AttachManager, type Attachment } from './attach-manager.js';
import { MountManager, type GuestMount, type MountConfig } from './mount-manager.js';

export interface ScsiAddOptions {
  readOnly: boolean;
  format?: DiskFormat;
  /** Mount in the guest as well (omit or false: attach only). `readOnly` defaults to the attachment's. */
  mount?: false | (Omit<MountConfig, 'readOnly'> & { readOnly?: boolean });
}

/** One caller's share of an attached (and possibly mounted) SCSI disk. */
export interface ScsiDisk {
  readonly hostPath: string;
  readonly readOnly: boolean;
  readonly controller: number;
  readonly lun: number;
  /** Where the disk is mounted in the guest; undefined when attached only. */
  readonly guestPath: string | undefined;
  readonly released: boolean;
  /** Unmount (at mount ref 0), then detach (at attach ref 0). Retryable after a failure. */
  release(): Promise<void>;
}

export class ScsiManager {
  constructor(
    private readonly attachments: AttachManager,
    private readonly mounts: MountManager,
    private readonly orphans: Orphans,
  ) {}

  async add(hostPath: string, options: ScsiAddOptions): Promise<ScsiDisk> {
    await this.orphans.retryQuietly();
    const att = await this.attachments.attach(hostPath, options.readOnly, options.format);
    let mount: RefEntry<GuestMount> | undefined;
    if (options.mount) {
      try {
        mount = await this.mounts.mount(att.value.controller, att.value.lun, { readOnly: options.readOnly, ...options.mount });
      } catch (err) {
        // Roll back our share of the attachment; the mount error is the one that matters.
        await this.attachments.detach(att).catch(() => this.orphans.adopt(`SCSI ${hostPath}`, () => this.attachments.detach(att)));
        throw err;
      }
    }
    return new ScsiHandle(att, mount, this.attachments, this.mounts);
  }

  /** Occupied slots, for diagnostics and tests. */
  inUse(): Attachment[] {
    return this.attachments.inUse();
  }

  /** Live guest mounts of SCSI disks. */
  get mountCount(): number {
    return this.mounts.size;
  }
}

class ScsiHandle implements ScsiDisk {
  readonly hostPath: string;
  readonly readOnly: boolean;
  readonly controller: number;
  readonly lun: number;
  readonly guestPath: string | undefined;
  private readonly once: ReleaseOnce;
  private mountReleased: boolean;

  constructor(att: RefEntry<Attachment>, mount: RefEntry<GuestMount> | undefined, attachments: AttachManager, mounts: MountManager) {
    ({ hostPath: this.hostPath, readOnly: this.readOnly, controller: this.controller, lun: this.lun } = att.value);
    this.guestPath = mount?.value.guestPath;
    this.mountReleased = mount === undefined;
    this.once = new ReleaseOnce('SCSI disk', { hostPath: this.hostPath, controller: this.controller, lun: this.lun }, async () => {
      if (mount && !this.mountReleased) {
        await mounts.unmount(mount);
        this.mountReleased = true;
      }
      await attachments.detach(att);
    });
  }

  get released(): boolean {
    return this.once.released;
  }

  release(): Promise<void> {
    return this.once.release();
  }
}
