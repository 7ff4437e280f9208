/**
 * The guest side of an LCOW UVM.
 *
 * hcsshim talks to its guest agent (the GCS) over its own bridge protocol on
 * hvsock port 0x40000000: mounts, overlays and SCSI unplugs are GCS requests,
 * not HCS calls. The backend builds them (../gcs GcsGuestOps) and hands each
 * to a GuestConnection; a GcsClient (../gcs) is one, once a transport carries
 * it to the VM. The hvsock transport is not built yet, so the default
 * connection refuses.
 */
import { LcowError } from '../../errors.js';
import type { GuestModifyRequest } from '../gcs/index.js';

export interface GuestConnection {
  /** Carry out one guest modification (mount, unmount, combine layers, unplug). */
  modify(request: GuestModifyRequest): Promise<void>;
  /** Drop the connection (the VM is stopping or stopped). */
  close(): Promise<void>;
}

/** What a connection factory learns about its VM. */
export interface GuestConnectionTarget {
  vmId: string;
}

export type GuestConnectionFactory = (target: GuestConnectionTarget) => GuestConnection | Promise<GuestConnection>;

/** The default: every request rejects, saying why. Host-side hot-plug still works without it. */
export class UnavailableGuestConnection implements GuestConnection {
  constructor(private readonly vmId: string) {}

  modify(request: GuestModifyRequest): Promise<void> {
    return Promise.reject(
      new LcowError(
        'EUNSUPPORTED',
        `guest request ${request.ResourceType}/${request.RequestType} needs hcsshim's GCS bridge on hvsock port 0x40000000, which this library cannot reach yet (no hvsock transport); inject a GuestConnection, e.g. a GcsClient`,
        { vmId: this.vmId, resourceType: request.ResourceType, requestType: request.RequestType, backend: 'hcs' },
      ),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const unavailableGuestConnection: GuestConnectionFactory = ({ vmId }) => new UnavailableGuestConnection(vmId);
