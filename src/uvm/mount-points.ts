/**
 * Guest mount points, one registry per VM.
 *
 * Generated paths are `/run/m/<n>` from a counter that only goes up. Short,
 * because overlay mount data is limited to one page (see overlay.ts) and a
 * union of 127 layers lists every lower path. Never reused, so an unmount
 * still in flight can not collide with a new mount at the same path (hcsshim
 * recycles the lowest free index). Every guest path a manager mounts at —
 * generated or asked for — is claimed here, so two mounts never share one.
 */
import { LcowError } from '../errors.js';

export const MOUNT_POINT_PREFIX = '/run/m';

export class MountPoints {
  private next = 0;
  private readonly claimed = new Map<string, string>();

  constructor(private readonly vmId: string) {}

  /** A fresh short path, claimed for `owner`. */
  allocate(owner: string): string {
    let path: string;
    do path = `${MOUNT_POINT_PREFIX}/${this.next++}`;
    while (this.claimed.has(path)); // a caller may have asked for one of ours explicitly
    this.claimed.set(path, owner);
    return path;
  }

  /** Claim a caller-chosen path; EMOUNTCONFLICT when something else is mounted there. */
  claim(path: string, owner: string): void {
    const holder = this.claimed.get(path);
    if (holder !== undefined) {
      throw new LcowError('EMOUNTCONFLICT', `guest path ${path} is already used by ${holder}`, {
        vmId: this.vmId,
        guestPath: path,
        holder,
        requestedBy: owner,
      });
    }
    this.claimed.set(path, owner);
  }

  free(path: string): void {
    this.claimed.delete(path);
  }

  inUse(): string[] {
    return [...this.claimed.keys()];
  }
}
