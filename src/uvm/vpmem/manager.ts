/**
 * VPMEM devices: a read-only layer file mapped as persistent memory, mounted
 * (DAX) at a short guest path. One device per host path, ref-counted. Host
 * add and guest mount belong together here (a device is never attached
 * without its mount), so one table holds both, and release undoes them in
 * reverse: unmount, remove, free the slot.
 *
 * A file VPMEM cannot take is not an error: `tryAdd` answers with the reason
 * (see VpmemFallbackReason) and the caller puts the layer elsewhere.
 *
 * What a removed device leaves behind is the backend's declared
 * `vpmemUnplug`: with 'full' the slot is free again; with 'same-file-only'
 * (QEMU cannot unplug virtio-pmem) it is retired, still mapping its file, and
 * only that file is sent there again — other files go to free slots.
 *
 * With the backend's `vpmemMapped` (HCS), a device is shared, as in
 * hcsshim's mapped VPMEM: each file takes the lowest page-aligned range of
 * the lowest device with room (a device is `maxSizeBytes` long, holds at
 * most MAX_MAPPINGS files), the guest mounts just that range, and the
 * device goes when its last file does.
 */
import type { BackendCapabilities, DiskFormat, GuestOps, HostOps, VpmemAddResult, VpmemMapping, VpmemRefusal } from '../../backend/index.js';
import type { MountPoints } from '../mount-points.js';
import type { HostFiles } from '../host-files.js';
import type { Orphans } from '../orphans.js';
import { ReleaseOnce } from '../release-once.js';
import { RefTable, type RefEntry } from '../ref-table.js';
import type { VmGuard } from '../vm-guard.js';
import { Regions } from './regions.js';

export type VpmemHost = Pick<HostOps, 'addVpmemDevice' | 'removeVpmemDevice' | 'addVpmemMapping' | 'removeVpmemMapping'>;
export type VpmemMounter = Pick<GuestOps, 'mountVpmem' | 'unmount'>;

/** hcsshim's defaults for a utility VM, taken when the backend's limits allow. */
export const DEFAULT_VPMEM_DEVICES = 64;
export const DEFAULT_VPMEM_MAX_SIZE = 4 * 1024 ** 3;

/** Files one shared device holds at most (hcsshim's MaxMappedDeviceCount). */
export const MAX_MAPPINGS = 1024;

/** Why a file did not get a VPMEM device (uvm then uses SCSI). */
export type VpmemFallbackReason = 'vpmem-disabled' | 'vpmem-full' | 'vpmem-too-large' | 'vpmem-unsuitable';

/** `tryAdd`'s answer: a device, or why not. */
export type VpmemAddOutcome = { readonly device: VpmemDevice } | { readonly fallback: VpmemFallbackReason; readonly detail: string };

interface Device {
  readonly hostPath: string;
  readonly slot: number;
  readonly guestPath: string;
  /** Mapped VPMEM: the device's range this file occupies. */
  readonly mapping?: VpmemMapping;
  mounted: boolean;
}

/** One device number, as far as this manager knows. */
type Slot =
  | { readonly state: 'free' }
  | { readonly state: 'used'; readonly device: Device }
  /** Removed from a 'same-file-only' backend: it still maps heldPath, and only heldPath may have it back. */
  | { readonly state: 'retired'; readonly heldPath: string }
  /** The backend refused it as held by another file (e.g. heldPath was replaced on disk): no file can have it. */
  | { readonly state: 'unusable' }
  /** Mapped VPMEM: a device holding one or more files at their ranges. */
  | { readonly state: 'shared'; readonly regions: Regions };

const FREE: Slot = { state: 'free' };
const UNUSABLE: Slot = { state: 'unusable' };

export interface VpmemManagerDeps {
  vmId: string;
  host: VpmemHost;
  mounter: VpmemMounter;
  hostFiles: HostFiles;
  paths: MountPoints;
  guard: VmGuard;
  orphans: Orphans;
  unplug: BackendCapabilities['vpmemUnplug'];
  /** Several files per device (the backend's capabilities.vpmemMapped). */
  mapped: boolean;
  count: number;
  maxSizeBytes: number;
}

/** One caller's share of a mounted VPMEM device. */
export interface VpmemDevice {
  readonly hostPath: string;
  readonly slot: number;
  readonly guestPath: string;
  /** Mapped VPMEM: where on the shared device this file is. */
  readonly mapping: VpmemMapping | undefined;
  readonly released: boolean;
  release(): Promise<void>;
}

/**
 * A refusal on its way out of `create`: thrown so that RefTable forgets the
 * entry and shares the answer with concurrent requests for the same file,
 * caught in `tryAdd`. Never leaves this module.
 */
class Refused extends Error {
  constructor(
    readonly reason: VpmemFallbackReason,
    readonly detail: string,
  ) {
    super(detail);
  }
}

const FALLBACK_FOR: Record<Exclude<VpmemRefusal, 'slot-held'>, VpmemFallbackReason> = {
  'too-large': 'vpmem-too-large',
  unsuitable: 'vpmem-unsuitable',
};

export class VpmemManager {
  private readonly table = new RefTable<Device>();
  private readonly slots: Slot[];

  constructor(private readonly deps: VpmemManagerDeps) {
    this.slots = new Array<Slot>(deps.count).fill(FREE);
  }

  get count(): number {
    return this.deps.count;
  }

  get maxSizeBytes(): number {
    return this.deps.maxSizeBytes;
  }

  /** Map and mount `hostPath`, or say why VPMEM cannot take it. Real failures (VM stopped, guest mount failed) reject. */
  async tryAdd(hostPath: string, format?: DiskFormat): Promise<VpmemAddOutcome> {
    await this.deps.orphans.retryQuietly();
    try {
      const entry = await this.table.acquire(hostPath, () => this.create(hostPath, format));
      return { device: new VpmemHandle(entry, this) };
    } catch (err) {
      if (err instanceof Refused) return { fallback: err.reason, detail: err.detail };
      throw err;
    }
  }

  /** @internal the handle's release step. */
  remove(entry: RefEntry<Device>): Promise<void> {
    return this.table.release(entry, async (dev) => {
      const { guard, mounter } = this.deps;
      if (dev.mounted) {
        await guard.undo('unmount', () => mounter.unmount(dev.guestPath));
        dev.mounted = false;
        this.deps.paths.free(dev.guestPath);
      }
      await this.removeDevice(dev);
    });
  }

  /** Device numbers holding a device now. */
  inUse(): number[] {
    return this.deps.mapped ? this.slotsIn('shared') : this.slotsIn('used');
  }

  /** Mapped VPMEM: the files each device holds now (device number → count). */
  mappings(): Map<number, number> {
    return new Map(this.slots.flatMap((s, i) => (s.state === 'shared' ? [[i, s.regions.count] as const] : [])));
  }

  /** Device numbers a new file cannot have: retired (only their old file can) or unusable. */
  retired(): number[] {
    return [...this.slotsIn('retired'), ...this.slotsIn('unusable')].sort((a, b) => a - b);
  }

  private slotsIn(state: Slot['state']): number[] {
    return this.slots.flatMap((s, i) => (s.state === state ? [i] : []));
  }

  private async create(hostPath: string, format: DiskFormat | undefined): Promise<Device> {
    const { guard, mounter, paths } = this.deps;
    if (this.deps.count === 0) throw new Refused('vpmem-disabled', 'VPMEM is disabled in this utility VM');
    const size = await this.deps.hostFiles.size(hostPath);
    if (size > this.deps.maxSizeBytes) {
      throw new Refused('vpmem-too-large', `${hostPath} (${size} bytes) is larger than a VPMEM device (${this.deps.maxSizeBytes} bytes)`);
    }
    const dev = this.deps.mapped ? await this.map(hostPath, format, size) : await this.plug(hostPath, format);
    try {
      await guard.do('mountVpmem', () => mounter.mountVpmem({ slot: dev.slot, guestPath: dev.guestPath, ...(dev.mapping ? { mapping: dev.mapping } : {}) }));
      dev.mounted = true;
    } catch (err) {
      paths.free(dev.guestPath);
      // If even the rollback fails the slot stays used (the host may still hold it) until an orphan retry succeeds.
      await this.removeDevice(dev).catch(() => this.deps.orphans.adopt(`VPMEM ${dev.slot} ${hostPath}`, () => this.removeDevice(dev)));
      throw err;
    }
    return dev;
  }

  /** Remove the device (or the file's mapping) on the host; its slot is then free, retired or still shared. */
  private async removeDevice(dev: Device): Promise<void> {
    const { guard, host } = this.deps;
    const { mapping } = dev;
    if (mapping) {
      await guard.undo('removeVpmemMapping', () => host.removeVpmemMapping(dev.slot, mapping.offsetBytes));
      const slot = this.slots[dev.slot]!;
      if (slot.state === 'shared') {
        slot.regions.release(mapping.offsetBytes);
        if (slot.regions.count === 0) this.slots[dev.slot] = FREE;
      }
      return;
    }
    await guard.undo('removeVpmemDevice', () => host.removeVpmemDevice(dev.slot));
    this.slots[dev.slot] = this.deps.unplug === 'full' ? FREE : { state: 'retired', heldPath: dev.hostPath };
  }

  /**
   * Mapped VPMEM: take the lowest range that fits on the lowest device with
   * room (synchronously, so concurrent adds never share one), and map the
   * file there. A refusal gives the range back.
   */
  private async map(hostPath: string, format: DiskFormat | undefined, size: number): Promise<Device> {
    const { guard, host, paths } = this.deps;
    for (;;) {
      const place = this.placeMapping(size);
      if (!place)
        throw new Refused(
          'vpmem-full',
          `no VPMEM device has ${size} bytes free for ${hostPath} (${this.deps.count} devices of ${this.deps.maxSizeBytes} bytes)`,
        );
      const { slot, regions, mapping } = place;
      const dev: Device = { hostPath, slot, guestPath: paths.allocate(`vpmem ${slot}@${mapping.offsetBytes}`), mapping, mounted: false };
      const giveBack = (): void => {
        paths.free(dev.guestPath);
        regions.release(mapping.offsetBytes);
        if (regions.count === 0 && this.slots[slot]?.state === 'shared') this.slots[slot] = FREE;
      };
      let result: VpmemAddResult;
      try {
        result = await guard.do('addVpmemMapping', () => host.addVpmemMapping(slot, mapping.offsetBytes, { hostPath, format }));
      } catch (err) {
        giveBack();
        throw err;
      }
      if (result.added) return dev;
      giveBack();
      if (result.refused === 'slot-held') {
        this.slots[slot] = UNUSABLE;
        continue;
      }
      throw new Refused(FALLBACK_FOR[result.refused], result.detail);
    }
  }

  private placeMapping(size: number): { slot: number; regions: Regions; mapping: VpmemMapping } | undefined {
    for (const [i, s] of this.slots.entries()) {
      if (s.state !== 'free' && s.state !== 'shared') continue;
      const regions = s.state === 'shared' ? s.regions : new Regions(this.deps.maxSizeBytes);
      if (regions.count >= MAX_MAPPINGS) continue;
      const mapping = regions.allocate(size);
      if (!mapping) continue;
      if (s.state === 'free') this.slots[i] = { state: 'shared', regions };
      return { slot: i, regions, mapping };
    }
    return undefined;
  }

  /** The slot retired holding this very file (its device comes back), else the lowest free one; -1 if none. */
  private pickSlot(hostPath: string): number {
    let free = -1;
    for (const [i, s] of this.slots.entries()) {
      if (s.state === 'retired' && s.heldPath === hostPath) return i;
      if (s.state === 'free' && free < 0) free = i;
    }
    return free;
  }

  /**
   * Take a slot (see pickSlot) and plug the file in. A slot the backend says
   * another file holds becomes unusable and the next one is tried; a file
   * the backend cannot map is refused.
   */
  private async plug(hostPath: string, format: DiskFormat | undefined): Promise<Device> {
    const { guard, host, paths } = this.deps;
    for (;;) {
      const slot = this.pickSlot(hostPath);
      if (slot < 0) throw new Refused('vpmem-full', `no free VPMEM device for ${hostPath} (${this.deps.count} devices)`);
      const before = this.slots[slot]!;
      const dev: Device = { hostPath, slot, guestPath: paths.allocate(`vpmem ${slot}`), mounted: false };
      // Taken before the await, so a concurrent add cannot pick the same slot.
      this.slots[slot] = { state: 'used', device: dev };
      let result: VpmemAddResult;
      try {
        result = await guard.do('addVpmemDevice', () => host.addVpmemDevice(slot, { hostPath, format }));
      } catch (err) {
        paths.free(dev.guestPath);
        this.slots[slot] = before;
        throw err;
      }
      if (result.added) return dev;
      paths.free(dev.guestPath);
      if (result.refused === 'slot-held') {
        this.slots[slot] = UNUSABLE;
        continue;
      }
      this.slots[slot] = before;
      throw new Refused(FALLBACK_FOR[result.refused], result.detail);
    }
  }
}

class VpmemHandle implements VpmemDevice {
  readonly hostPath: string;
  readonly slot: number;
  readonly guestPath: string;
  readonly mapping: VpmemMapping | undefined;
  private readonly once: ReleaseOnce;

  constructor(entry: RefEntry<Device>, manager: VpmemManager) {
    ({ hostPath: this.hostPath, slot: this.slot, guestPath: this.guestPath, mapping: this.mapping } = entry.value);
    this.once = new ReleaseOnce('VPMEM device', { hostPath: this.hostPath, slot: this.slot }, () => manager.remove(entry));
  }

  get released(): boolean {
    return this.once.released;
  }

  release(): Promise<void> {
    return this.once.release();
  }
}
