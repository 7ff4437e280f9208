/**
 * The guest side of an LCOW UVM. Everything inside the VM — mounts, overlays,
 * SCSI unplugs, processes — is a request to hcsshim's GCS over its bridge, not
 * an HCS call. HcsVm reaches it in hcsshim's two steps: a GuestLink is made
 * before HcsStartComputeSystem (the default, guest-link.ts, listens on the
 * VM's hvsockets there, since the VM's init dials them at boot) and connected
 * once the VM has started.
 *
 * Engines and tests that bring their own connection inject a
 * GuestConnectionFactory instead (a GcsClient over a transport of their own is
 * one); it is called once the VM has started.
 */
import type { Logger } from '../../log.js';
import type { GuestModifyRequest } from '../gcs/index.js';
import type { ExecOptions, ExecResult } from '../types.js';

export interface GuestConnection {
  /** Carry out one guest modification (mount, unmount, combine layers, unplug). */
  modify(request: GuestModifyRequest): Promise<void>;
  /** Run a process in the VM from argv. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Power the VM off from inside (the GCS's ShutdownForced); resolves once sent, no answer comes. */
  shutdownForced?(): Promise<void>;
  /** The VM is gone: pending and later calls reject EVMSTOPPED. */
  stop?(reason: string): void;
  /** Drop the connection (the VM is stopping or stopped). */
  close(): Promise<void>;
}

/** What the guest side learns about its VM. */
export interface GuestConnectionTarget {
  vmId: string;
  /** HCS's RuntimeId of the VM (HcsGetComputeSystemProperties): the VmId of its hvsock addresses. */
  runtimeId: string;
  logger: Logger;
}

/** An injected guest side: called once the VM has started. */
export type GuestConnectionFactory = (target: GuestConnectionTarget) => GuestConnection | Promise<GuestConnection>;

/** The guest side as HcsVm drives it. */
export interface GuestLink {
  /** After HcsStartComputeSystem: the connection, ready for requests. */
  connect(): Promise<GuestConnection>;
  /** Release everything the link holds (listeners, the connection); safe to call again. */
  close(): Promise<void>;
}

/** Made before HcsStartComputeSystem. */
export type GuestLinkFactory = (target: GuestConnectionTarget) => Promise<GuestLink>;

/** A link whose connection an injected factory makes, after start; nothing happens before. */
export function injectedGuestLink(factory: GuestConnectionFactory): GuestLinkFactory {
  return async (target) => {
    let connection: GuestConnection | undefined;
    return {
      connect: async () => (connection = await factory(target)),
      close: async () => {
        const c = connection;
        connection = undefined;
        await c?.close();
      },
    };
  };
}
