/**
 * What `get(id)` returns: a layer's root file system in a service VM, mounted
 * lazily on first use (moby's optimisation: most gets are never read) and
 * operated on through argv-safe guest processes (guest-fs.ts); `run` starts a
 * container process on it under runc (container-run.ts).
 *
 * The handle holds one service-VM lease and one union mount while mounted;
 * `close()` — called by the driver's last `put` — gives both back. Every
 * operation runs under that VM's lock (operations on one VM are serialised;
 * different VMs run in parallel).
 */
import { posix } from 'node:path';
import { Mutex } from 'async-mutex';
import { LcowError, asError, isLcowError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ExecOptions, ExecResult } from '../backend/index.js';
import type { ServiceVmLease, ServiceVms } from '../svm/index.js';
import { mountContainerLayers, type ContainerLayer, type ContainerLayers, type UtilityVM } from '../uvm/index.js';
import { CONTAINER_BASE_DIR, makeContainerBase, runContainer } from './container-run.js';
import { GuestFs, type GuestStat, type MkdirOptions, type PlacedEntry, type RemoveOptions } from './guest-fs.js';

export type DriverSvms = ServiceVms<UtilityVM, ContainerLayers>;

/** The images a layer's rootfs is made of. */
export interface RootfsSpec {
  /** The layers below, top-most first: read-only layer images, and read-write parents' sandboxes (read-only there). */
  layers: ContainerLayer[];
  /** The read-write sandbox, when the layer is one. */
  sandbox?: string;
}

/** VMs whose container base directory exists (made once per VM, under its lock, before its first union). */
const withContainerBase = new WeakSet<UtilityVM>();

/** A hostname from a layer id: letters, digits and '-' only, at most 63 of them (one DNS label). */
function hostnameOf(id: string): string {
  return id.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 63) || 'lcow';
}

interface Mounted {
  lease: ServiceVmLease<UtilityVM, ContainerLayers>;
  union: ContainerLayers;
  fs: GuestFs;
}

export class LayerHandle {
  private mounted: Mounted | undefined;
  private closed = false;
  private readonly mountLock = new Mutex();
  /** Runs so far: with the guest root's name, each run's container id, unique in its VM. */
  private runs = 0;

  constructor(
    readonly id: string,
    private readonly svms: DriverSvms,
    private readonly spec: () => Promise<RootfsSpec>,
    private readonly guestRoot: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** True once the union exists in a service VM. */
  get isMounted(): boolean {
    return this.mounted !== undefined;
  }

  /** Mount now (if not yet) and return the rootfs's path in the service VM. */
  async rootfs(): Promise<string> {
    return (await this.ensure()).union.rootfs;
  }

  /** The service VM this handle is mounted in (mounting first). */
  async vm(): Promise<UtilityVM> {
    return (await this.ensure()).lease.vm;
  }

  readFile(p: string): Promise<Buffer> {
    return this.op((fs) => fs.readFile(p));
  }
  writeFile(p: string, data: Buffer | string): Promise<void> {
    return this.op((fs) => fs.writeFile(p, data));
  }
  stat(p: string): Promise<GuestStat> {
    return this.op((fs) => fs.stat(p));
  }
  readdir(p: string): Promise<string[]> {
    return this.op((fs) => fs.readdir(p));
  }
  mkdir(p: string, options?: MkdirOptions): Promise<void> {
    return this.op((fs) => fs.mkdir(p, options));
  }
  remove(p: string, options?: RemoveOptions): Promise<void> {
    return this.op((fs) => fs.remove(p, options));
  }
  /** See GuestFs.place: what a writer into an empty directory made at `p`, made here. */
  place(p: string, entry: PlacedEntry): Promise<'made' | 'kept'> {
    return this.op((fs) => fs.place(p, entry));
  }

  /**
   * Run a container process on the rootfs: runc in the service VM, in its own
   * namespaces, without the capabilities to mount or reach a device
   * (oci-config.ts); one argv array end to end. `cwd` and `env` apply inside
   * the container. Resolves with any exit status (the caller decides); a
   * program that cannot be started is EGUEST; at the time limit the
   * container is killed and the run is ETIMEOUT.
   */
  run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const given: unknown = argv; // checked as JavaScript callers may pass anything; Array.isArray(argv) would widen argv to any[]
    if (!Array.isArray(given) || argv.length === 0) throw new LcowError('EINVAL', 'run needs a non-empty argv array', { id: this.id });
    return this.withVm((m) =>
      runContainer(
        (a, o) => m.lease.vm.exec(a, o),
        {
          rootfs: m.union.rootfs,
          readonlyRootfs: m.union.scratch === undefined,
          id: `${posix.basename(this.guestRoot)}-${++this.runs}`,
          hostname: hostnameOf(this.id),
          args: argv,
          timeoutMs: this.timeoutMs,
        },
        options,
      ),
    );
  }

  /**
   * Unmount and give the VM reference back (the driver's last put). When the
   * union cannot be unmounted, the handle keeps it and its VM reference and
   * stays usable: the layer is still in use (its sandbox still attached),
   * and the next close tries again — it never forgets a mounted union.
   */
  async close(): Promise<void> {
    await this.mountLock.runExclusive(async () => {
      const m = this.mounted;
      if (m) {
        await m.lease.entry.runExclusive(() =>
          // A retry: the map dropped the union when its first release failed; the union's own handle resumes.
          m.lease.entry.unionMounts.get(this.guestRoot) === m.union ? m.lease.entry.unionMounts.release(this.guestRoot, (u) => u.release()) : m.union.release(),
        );
      }
      this.closed = true;
      this.mounted = undefined;
      await m?.lease.release();
    });
  }

  private op<T>(fn: (fs: GuestFs) => Promise<T>): Promise<T> {
    return this.withVm((m) => fn(m.fs));
  }

  private async withVm<T>(fn: (m: Mounted) => Promise<T>): Promise<T> {
    const m = await this.ensure();
    try {
      return await m.lease.entry.runExclusive(() => fn(m));
    } catch (err) {
      if (isLcowError(err, 'EVMSTOPPED')) await this.forget(m);
      throw err;
    }
  }

  /**
   * The VM died under us: forget the mount, and drop the VM's entry (in
   * global mode too) so that the next operation mounts again in a fresh VM
   * rather than failing for ever against the dead one.
   */
  private async forget(m: Mounted): Promise<void> {
    await this.mountLock.runExclusive(async () => {
      if (this.mounted !== m) return;
      this.mounted = undefined;
      this.log.warn({ id: this.id, vmId: m.lease.vmId }, 'service VM stopped under a mounted layer; will remount on next use');
      await this.svms.forceStopEntry(m.lease.entry).catch((e: unknown) => this.log.warn({ err: asError(e), id: this.id }, 'dropping the dead service VM'));
      await m.lease.release().catch((e: unknown) => this.log.warn({ err: asError(e), id: this.id }, 'release after VM death'));
    });
  }

  /** The mount points runc needs, under every union of this VM (called under the VM's lock). */
  private async ensureContainerBase(vm: UtilityVM): Promise<void> {
    if (withContainerBase.has(vm)) return;
    await makeContainerBase((a, o) => vm.exec(a, o), this.timeoutMs);
    withContainerBase.add(vm);
  }

  private ensure(): Promise<Mounted> {
    if (this.mounted) return Promise.resolve(this.mounted);
    return this.mountLock.runExclusive(async () => {
      if (this.closed) throw new LcowError('EINVAL', `layer ${this.id} was put; get it again`, { id: this.id });
      if (this.mounted) return this.mounted;
      const spec = await this.spec();
      const lease = await this.svms.acquire(this.id);
      try {
        const union = await lease.entry.runExclusive(async () => {
          await this.ensureContainerBase(lease.vm);
          return lease.entry.unionMounts.acquire(this.guestRoot, () =>
            mountContainerLayers(lease.vm, spec.layers, spec.sandbox, this.guestRoot, { baseDirs: [CONTAINER_BASE_DIR] }),
          );
        });
        this.mounted = { lease, union, fs: new GuestFs((argv, o) => lease.vm.exec(argv, o), union.rootfs, this.timeoutMs) };
        return this.mounted;
      } catch (err) {
        // The mount error is the one to report; a release failure beside it is logged.
        await lease.release().catch((e: unknown) => this.log.warn({ err: asError(e), id: this.id }, 'release after failed mount'));
        throw err;
      }
    });
  }
}
