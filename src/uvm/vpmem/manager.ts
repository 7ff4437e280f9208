/**
 * VPMEM devices: a read-only layer file mapped as persistent memory, mounted
 * (DAX) at a short guest path. One device per host path, ref-counted; a
 * file goes back to the device it held last, others to the lowest device
 * never used, then the lowest free (see pickSlot). Host add and guest mount belong
 * together here (a device is never attached without its mount), so one table
 * holds both, and release undoes them in reverse: unmount, remove, free.
 *
 * Refusals callers may fall back from (see layers.ts), all with context
 * kind 'vpmem': ENOSLOT (all devices in use, or VPMEM disabled), ETOOBIG (file
 * larger than the per-device maximum), and the backend's EVPMEMUNSUITABLE /
 * EUNSUPPORTED / ETOOBIG for a file it cannot map.
 */
import { LcowError, isLcowError } from '../../errors.js';
import type { DiskFormat, GuestOps, HostOps } from '../../backend/index.js';
import type { GuestPaths } from '../guest-paths.js';
import type { HostFiles } from '../host-files.js';
import type { Orphans } from '../orphans.js';
import { ReleaseOnce } from '../release-once.js';
import { RefTable, type RefEntry } from '../ref-table.js';
import type { VmGuard } from '../vm-guard.js';

export type VpmemHost = Pick<HostOps, 'addVpmemDevice' | 'removeVpmemDevice'>;
export type VpmemMounter = Pick<GuestOps, 'mountVpmem' | 'unmount'>;

export const MAX_VPMEM_DEVICES = 128;
export const DEFAULT_VPMEM_DEVICES = 64;
export const DEFAULT_VPMEM_MAX_SIZE = 4 * 1024 ** 3;

interface Device {
  readonly hostPath: string;
  readonly slot: number;
  readonly guestPath: string;
  mounted: boolean;
}

export interface VpmemManagerDeps {
  vmId: string;
  host: VpmemHost;
  mounter: VpmemMounter;
  hostFiles: HostFiles;
  paths: GuestPaths;
  guard: VmGuard;
  orphans: Orphans;
  count: number;
  maxSizeBytes: number;
}

/** One caller's share of a mounted VPMEM device. */
export interface VpmemDevice {
  readonly hostPath: string;
  readonly slot: number;
  readonly guestPath: string;
  readonly released: boolean;
  release(): Promise<void>;
}

export class VpmemManager {
  private readonly table = new RefTable<Device>();
  private readonly slots: (Device | undefined)[];
  /**
   * The file each free slot held last. A backend that cannot unplug (QEMU)
   * can give a slot back only to the file it still maps, so a file goes to
   * its old slot first, and other files to never-used slots before those.
   */
  private readonly lastFile: (string | undefined)[];

  constructor(private readonly deps: VpmemManagerDeps) {
    this.slots = new Array<Device | undefined>(deps.count).fill(undefined);
    this.lastFile = new Array<string | undefined>(deps.count).fill(undefined);
  }

  get count(): number {
    return this.deps.count;
  }

  get maxSizeBytes(): number {
    return this.deps.maxSizeBytes;
  }

  async add(hostPath: string, format?: DiskFormat): Promise<VpmemDevice> {
    await this.deps.orphans.retryQuietly();
    const entry = await this.table.acquire(hostPath, () => this.create(hostPath, format));
    return new VpmemHandle(entry, this);
  }

  /** @internal the handle's release step. */
  remove(entry: RefEntry<Device>): Promise<void> {
    return this.table.release(entry, async (dev) => {
      const { guard, mounter, host } = this.deps;
      if (dev.mounted) {
        await guard.undo('unmount', () => mounter.unmount(dev.guestPath));
        dev.mounted = false;
        this.deps.paths.free(dev.guestPath);
      }
      await guard.undo('removeVpmemDevice', () => host.removeVpmemDevice(dev.slot));
      this.slots[dev.slot] = undefined;
      this.lastFile[dev.slot] = dev.hostPath;
    });
  }

  /** Occupied device numbers (not counting retired ones). */
  inUse(): number[] {
    return this.slots.flatMap((d, i) => (d && d !== RETIRED ? [i] : []));
  }

  /** Device numbers the backend can not use again. */
  retired(): number[] {
    return this.slots.flatMap((d, i) => (d === RETIRED ? [i] : []));
  }

  private async create(hostPath: string, format: DiskFormat | undefined): Promise<Device> {
    const { vmId, guard, host, mounter, paths } = this.deps;
    if (this.deps.count === 0) {
      throw new LcowError('ENOSLOT', 'VPMEM is disabled in this utility VM', { vmId, kind: 'vpmem', hostPath, count: 0 });
    }
    const size = await this.deps.hostFiles.size(hostPath);
    if (size > this.deps.maxSizeBytes) {
      throw new LcowError('ETOOBIG', `${hostPath} (${size} bytes) is larger than a VPMEM device (${this.deps.maxSizeBytes} bytes)`, {
        vmId,
        kind: 'vpmem',
        hostPath,
        sizeBytes: size,
        maxSizeBytes: this.deps.maxSizeBytes,
      });
    }
    const { slot, guestPath, dev } = await this.plug(hostPath, format);
    try {
      await guard.do('mountVpmem', () => mounter.mountVpmem({ slot, guestPath }));
      dev.mounted = true;
    } catch (err) {
      paths.free(guestPath);
      // Roll the device back; if even that fails the slot stays taken (the host may still hold it) until an orphan retry succeeds.
      const removeDevice = async () => {
        await guard.undo('removeVpmemDevice', () => host.removeVpmemDevice(slot));
        this.slots[slot] = undefined;
      };
      await removeDevice().catch(() => this.deps.orphans.adopt(`VPMEM ${slot} ${hostPath}`, removeDevice));
      throw err;
    }
    return dev;
  }

  /**
   * A slot for `hostPath`: the one it held last (free, or retired by a
   * backend that still maps this very file), else the lowest never used,
   * else the lowest free; -1 if none.
   */
  private pickSlot(hostPath: string): number {
    let neverUsed = -1;
    let anyFree = -1;
    for (let i = 0; i < this.slots.length; i++) {
      if (this.lastFile[i] === hostPath && (this.slots[i] === undefined || this.slots[i] === RETIRED)) return i;
      if (this.slots[i] !== undefined) continue;
      if (neverUsed < 0 && this.lastFile[i] === undefined) neverUsed = i;
      if (anyFree < 0) anyFree = i;
    }
    return neverUsed >= 0 ? neverUsed : anyFree;
  }

  /**
   * Take a free device (see pickSlot) and plug the file in. A backend refusal that
   * is about VPMEM (size, format, alignment) is re-thrown marked kind 'vpmem'
   * so the layer placement falls back to SCSI; a slot the backend reports as
   * unusable (QEMU cannot unplug virtio-pmem, so a used slot is retired) is
   * never offered again and the next one is tried.
   */
  private async plug(hostPath: string, format: DiskFormat | undefined): Promise<{ slot: number; guestPath: string; dev: Device }> {
    const { vmId, guard, host, paths } = this.deps;
    for (;;) {
      const slot = this.pickSlot(hostPath);
      if (slot < 0) {
        throw new LcowError('ENOSLOT', `no free VPMEM device for ${hostPath}`, { vmId, kind: 'vpmem', hostPath, count: this.deps.count });
      }
      const guestPath = paths.allocate(`vpmem ${slot}`);
      const dev: Device = { hostPath, slot, guestPath, mounted: false };
      this.slots[slot] = dev;
      this.lastFile[slot] = undefined;
      try {
        await guard.do('addVpmemDevice', () => host.addVpmemDevice(slot, { hostPath, format }));
        return { slot, guestPath, dev };
      } catch (err) {
        paths.free(guestPath);
        if (isLcowError(err, 'ENOSLOT')) {
          // Retired; only the file the backend says it still maps may have it back.
          this.slots[slot] = RETIRED;
          const held = err.context.heldPath;
          this.lastFile[slot] = typeof held === 'string' && held !== hostPath ? held : undefined;
          continue;
        }
        this.slots[slot] = undefined;
        if (isLcowError(err, ...BACKEND_REFUSALS)) {
          throw new LcowError(err.code, err.message, { ...err.context, vmId, kind: 'vpmem', hostPath, refusedBy: 'backend' }, { cause: err });
        }
        throw err;
      }
    }
  }
}

/** What a backend's addVpmemDevice may answer when the file just does not suit VPMEM. */
const BACKEND_REFUSALS = ['ETOOBIG', 'EUNSUPPORTED', 'EVPMEMUNSUITABLE'] as const;

/** A slot the backend will not use again. */
const RETIRED: Device = Object.freeze({ hostPath: '', slot: -1, guestPath: '', mounted: false }) as Device;

class VpmemHandle implements VpmemDevice {
  readonly hostPath: string;
  readonly slot: number;
  readonly guestPath: string;
  private readonly once: ReleaseOnce;

  constructor(entry: RefEntry<Device>, manager: VpmemManager) {
    ({ hostPath: this.hostPath, slot: this.slot, guestPath: this.guestPath } = entry.value);
    this.once = new ReleaseOnce('VPMEM device', { hostPath: this.hostPath, slot: this.slot }, () => manager.remove(entry));
  }

  get released(): boolean {
    return this.once.released;
  }

  release(): Promise<void> {
    return this.once.release();
  }
}
