/**
 * The guest side of a VmHandle (everything but exec) as GCS requests: one
 * ModifySettings per operation, sent by whatever carries them (a GcsClient,
 * or an engine's own connection injected into the hcs backend).
 *
 * The GCS unmounts by receiving the mount's own settings again with
 * RequestType Remove, so each mount is remembered by its guest path until
 * it is gone. Teardown follows hcsshim's order — guest unmount, guest
 * unplug (SCSIDevice Remove), then the host detach — which the uvm managers
 * already keep; a newer GCS waits for ever for a disk that was detached
 * before its MappedVirtualDisk Remove.
 */
import { LcowError } from '../../errors.js';
import type { CombineLayersRequest, GuestOps, ScsiMountRequest, VpmemMountRequest } from '../types.js';
import * as requests from './guest-requests.js';
import type { GuestModifyRequest } from './guest-requests.js';

export type GuestModifier = (request: GuestModifyRequest) => Promise<void>;

type Mounted = { kind: 'scsi'; req: ScsiMountRequest } | { kind: 'vpmem'; req: VpmemMountRequest };

export class GcsGuestOps implements Omit<GuestOps, 'exec'> {
  private readonly mounts = new Map<string, Mounted>();

  constructor(
    private readonly vmId: string,
    private readonly modify: GuestModifier,
  ) {}

  async mountScsi(req: ScsiMountRequest): Promise<void> {
    await this.modify(requests.mountScsiRequest(req));
    this.mounts.set(req.guestPath, { kind: 'scsi', req });
  }

  async mountVpmem(req: VpmemMountRequest): Promise<void> {
    await this.modify(requests.mountVpmemRequest(req));
    this.mounts.set(req.guestPath, { kind: 'vpmem', req });
  }

  async unmount(guestPath: string): Promise<void> {
    const m = this.mounts.get(guestPath);
    if (!m) throw new LcowError('ENOTFOUND', `nothing mounted at ${guestPath} by this VM`, { vmId: this.vmId, guestPath });
    await this.modify(m.kind === 'scsi' ? requests.unmountScsiRequest(m.req) : requests.unmountVpmemRequest(m.req));
    this.mounts.delete(guestPath);
  }

  unplugScsi(controller: number, lun: number): Promise<void> {
    return this.modify(requests.unplugScsiRequest(controller, lun));
  }

  combineLayers(req: CombineLayersRequest): Promise<void> {
    return this.modify(requests.combineLayersRequest(req));
  }

  removeCombinedLayers(target: string): Promise<void> {
    return this.modify(requests.removeCombinedLayersRequest(target));
  }
}
