/**
 * The LCOW storage driver: moby's graph-driver verbs over plain files under a
 * data root (see layout.ts and README.md), with service VMs only where a VM
 * is really needed — mounting a rootfs for `get`. Conversion (applyDiff) and
 * reading (diff, changes, diffSize, diffGetter) happen on the host.
 *
 * Concurrency: verbs on one layer id are serialised by a per-id lock; work in
 * a service VM by that VM's lock; nothing holds a global lock around I/O.
 * One opener of a data root at a time (root-lock.ts), from open to cleanup.
 */
import { promises as fs } from 'node:fs';
import type { Readable } from 'node:stream';
import type { BootSpec, HypervisorBackend } from '../backend/index.js';
import { LcowError, asError, isLcowError } from '../errors.js';
import { componentLogger, type Logger } from '../log.js';
import { ServiceVms, type ServiceVmMode } from '../svm/index.js';
import { resolveUtilityVMOptions, type ContainerLayer, type ContainerLayers, type UtilityVM } from '../uvm/index.js';
import { ConversionWorkers } from './apply-diff.js';
import { bootFromOptions, checkBootOptions } from './boot.js';
import { resolveBackend, type DriverBackend } from './driver-backend.js';
import { changes as hostChanges, diffSize as hostDiffSize, type Change } from './host-diff/changes.js';
import { diffGetter as hostDiffGetter, type FileGetCloser } from './host-diff/diff-getter.js';
import { layerToTar, sandboxToTar } from './host-diff/to-tar.js';
import { KeyedMutex } from './keyed-mutex.js';
import { chainForChild, readParentIds, writeChain } from './layer-chain.js';
import { findLayerImage, layerImage, type LayerDetails } from './layer-details.js';
import { LayerHandle, type DriverSvms, type RootfsSpec } from './layer-handle.js';
import { LAYER_FILE, Layout, SANDBOX_FILE, checkLayerId } from './layout.js';
import { lockRoot, type RootLock } from './root-lock.js';
import { DEFAULT_SANDBOX_SIZE_GB, MAX_SANDBOX_SIZE_GB, parseLcowOptions, type LcowDriverOpenOptions, type LcowOptions } from './options.js';
import { serviceVmLifecycle } from './service-vm.js';
import { hasUpperDir } from './sandbox.js';
import { Templates, hostSandboxMaker } from './templates.js';
import { typedFs } from './typed-fs.js';

export interface CreateOptions {
  /** Per-layer storage options; `lcow.sandboxsize` is honoured by createReadWrite. */
  storageOpt?: Record<string, string>;
}

export interface CreateReadWriteOptions extends CreateOptions {
  /** Sandbox size in GB (≥ 20); default: the driver's lcow.sandboxsize. */
  sizeGB?: number;
}

export interface ApplyDiffOptions {
  signal?: AbortSignal;
}

export interface DriverStatus {
  driver: 'lcow';
  mode: ServiceVmMode;
  dataRoot: string;
  /** Map ids of the service VMs that exist now (starting, running or stopping). */
  serviceVms: string[];
  /** Backend name once one was loaded, else undefined (no VM was needed yet). */
  backend: string | undefined;
  /** What serves the service VMs' guest requests ('gcs (bridge v4)', 'qemu-guest-agent'), once a backend was loaded. */
  guestAgent: string | undefined;
  sandboxSizeGB: number;
  /** Layers currently got (get without its put). */
  mounted: string[];
}

/** A got layer: how many gets it has and their shared handle. */
interface MountEntry {
  count: number;
  handle: LayerHandle;
}

export class LcowDriver {
  readonly layout: Layout;
  readonly options: LcowOptions;
  private readonly log: Logger;
  private readonly svms: DriverSvms;
  private readonly ids = new KeyedMutex();
  private readonly mounts = new Map<string, MountEntry>();
  private readonly templates: Templates;
  /** applyDiff's worker threads, kept between layers; ended by cleanup. */
  private readonly conversions = new ConversionWorkers();
  private readonly backendChoice: DriverBackend;
  private backend: Promise<HypervisorBackend> | undefined;
  private backendName: string | undefined;
  private guestAgent: string | undefined;
  private boot: Promise<BootSpec | undefined> | undefined;
  private guestSerial = 0;
  /** Held from open to cleanup; undefined once cleanup gave the root back. */
  private rootLock: RootLock | undefined;

  private constructor(root: string, options: LcowOptions, open: LcowDriverOpenOptions) {
    this.layout = new Layout(root);
    this.options = options;
    this.log = componentLogger(open.logger, 'driver', { root: this.layout.root });
    this.backendChoice = open.backend ?? 'auto';
    this.templates = new Templates(this.layout, hostSandboxMaker);
    this.svms = new ServiceVms<UtilityVM, ContainerLayers>({
      mode: options.globalMode ? 'global' : 'safe',
      maxParallelStarts: open.maxParallelStarts,
      logger: this.log,
      lifecycle: serviceVmLifecycle({
        backend: () => this.loadBackend(),
        boot: () => {
          // Kept once known; a failure (e.g. the guest image could not be built) is retried next time.
          this.boot ??= bootFromOptions(this.options, async () => (await this.loadBackend()).defaultBoot()).catch((err: unknown) => {
            this.boot = undefined;
            throw err;
          });
          return this.boot;
        },
        kernelArgs: options.bootParameters,
        timeoutSeconds: options.timeoutSeconds,
        memoryMiB: open.serviceVm?.memoryMiB ?? 512,
        cpus: open.serviceVm?.cpus ?? 1,
        vpmem: open.serviceVm?.vpmem,
        logger: this.log,
        onCreate: open.onServiceVmCreate,
      }),
    });
  }

  /**
   * Open (creating if needed) a data root. Parses and checks the options
   * (`open.options` holds the engine's `key=value` strings) and finishes what
   * a crashed process left (`-removing`, `-creating-`, `-applying-` directories).
   */
  static async open(root: string, open: LcowDriverOpenOptions = {}): Promise<LcowDriver> {
    const log = componentLogger(open.logger, 'driver');
    const options = parseLcowOptions(open.options ?? [], log);
    await checkBootOptions(options);
    // Service-VM sizes are checked now, not at the first get (the UtilityVM's own rules; EBADOPTION),
    // against the backend's limits when the engine gave a backend object, else the limits every backend has.
    resolveUtilityVMOptions({ id: 'check', ...open.serviceVm, ...(typeof open.backend === 'object' ? { backend: open.backend } : {}) });
    const d = new LcowDriver(root, options, open);
    await typedFs('open', { root: d.layout.root }, async () => {
      for (const dir of [d.layout.root, d.layout.cacheDir]) await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    });
    // Nothing is read or deleted before the root is ours: another opener's work is not a crash leftover.
    const lock = await lockRoot(d.layout.root, d.layout.cacheDir);
    d.rootLock = lock;
    try {
      await typedFs('open', { root: d.layout.root }, async () => {
        // A crash while a template was being written leaves its temp file (never the template itself).
        for (const name of (await fs.readdir(d.layout.cacheDir)).filter((n) => n.includes('.tmp-'))) {
          await fs.rm(`${d.layout.cacheDir}/${name}`, { force: true });
        }
        await d.collectLeftovers();
      });
    } catch (err) {
      await lock.release();
      throw err;
    }
    d.log.info({ mode: d.svms.mode, sandboxSizeGB: options.sandboxSizeGB }, 'driver open');
    return d;
  }

  /** The driver's name, as registered with an engine. */
  toString(): string {
    return 'lcow';
  }

  // ------------------------------------------------------------------ layers

  /** A read-only layer directory with its chain; its content arrives by applyDiff. */
  async create(id: string, parent = '', _opts: CreateOptions = {}): Promise<void> {
    this.ready(id);
    await this.locked('create', id, () => this.createDir(id, parent, async () => undefined));
  }

  /**
   * A read-write layer (a container's sandbox). The default size copies the
   * cached template (made on first use, on the host) and starts no VM.
   */
  async createReadWrite(id: string, parent = '', opts: CreateReadWriteOptions = {}): Promise<void> {
    this.ready(id);
    const sizeGB = this.sandboxSize(opts);
    await this.locked('createReadWrite', id, () =>
      this.createDir(id, parent, async (work) => {
        const r = await this.templates.sandbox(`${work}/${SANDBOX_FILE}`, sizeGB, this.options.sandboxSizeGB);
        this.log.debug({ id, sizeGB, fromTemplate: r.fromTemplate }, 'sandbox created');
      }),
    );
  }

  /**
   * Remove a layer: rename to `<id>-removing` (so a crash leaves a leftover
   * that cleanup finds, never a half layer), force-stop its safe-mode service
   * VM, delete. A layer that is got (get without put), or a parent of one,
   * is EBUSY (its image may be attached to a VM). A missing
   * layer is not an error (a crashed remove is retried by the engine).
   */
  async remove(id: string): Promise<void> {
    this.ready(id);
    await this.locked('remove', id, async () => {
      const user = await this.gotLayerUsing(id);
      if (user !== undefined) {
        throw new LcowError('EBUSY', user === id ? `layer ${id} is in use (get without put)` : `layer ${id} is a parent of ${user}, which is in use`, {
          id,
          usedBy: user,
        });
      }
      const removing = this.layout.removingDir(id);
      try {
        await fs.rename(this.layout.dir(id), removing);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw new LcowError('EIO', `cannot rename layer ${id} for removal`, { id }, { cause: err });
        await fs.rm(removing, { recursive: true, force: true }); // an older leftover of the same id
        await fs.rename(this.layout.dir(id), removing);
      }
      await this.svms.forceStop(id);
      await fs.rm(removing, { recursive: true, force: true });
    });
  }

  async exists(id: string): Promise<boolean> {
    this.assertOpen();
    try {
      checkLayerId(id);
      return (await fs.stat(this.layout.dir(id))).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * A handle on the layer's rootfs in a service VM, mounted on first use.
   * Ref-counted: every get needs its put. The same handle is returned while
   * the layer is got.
   */
  async get(id: string): Promise<LayerHandle> {
    this.ready(id);
    return this.locked('get', id, async () => {
      const known = this.mounts.get(id);
      if (known) {
        known.count++;
        return known.handle;
      }
      await findLayerImage(this.layout, id); // ENOTFOUND now rather than at first use
      const handle = new LayerHandle(
        id,
        this.svms,
        () => this.rootfsSpec(id),
        `/run/lcow/r${++this.guestSerial}`,
        this.options.timeoutSeconds * 1000,
        this.log,
      );
      this.mounts.set(id, { count: 1, handle });
      return handle;
    });
  }

  /**
   * Undo one get; the last put unmounts and gives the VM reference back. A
   * put without get is a no-op. A last put that cannot unmount fails and
   * leaves the layer got (its sandbox may still be written), to be put again.
   */
  async put(id: string): Promise<void> {
    checkLayerId(id);
    await this.locked('put', id, async () => {
      const m = this.mounts.get(id);
      if (!m) {
        this.log.debug({ id }, 'put without get');
        return;
      }
      if (m.count > 1) {
        m.count--;
        return;
      }
      // When the union cannot be unmounted, the layer stays got: remove and diff stay EBUSY, the next put tries again.
      await m.handle.close();
      this.mounts.delete(id);
    });
  }

  // -------------------------------------------------------------- content

  /**
   * Convert a layer tar into `<id>/layer.vhd` (in a worker thread); returns
   * the image size. Atomic: the image is written in an `-applying-` work dir
   * and renamed in, so a crash leaves no visible half layer. Works on a layer
   * made by create (the image is renamed into it) or on a new id (the whole
   * directory, chain included, is renamed into place).
   */
  async applyDiff(id: string, parent: string, tar: AsyncIterable<Uint8Array>, opts: ApplyDiffOptions = {}): Promise<number> {
    this.ready(id);
    return this.locked('applyDiff', id, async () => {
      const existing = await findLayerImage(this.layout, id).catch((err: unknown) => {
        if (isLcowError(err, 'ENOTFOUND')) return null; // no directory: a new layer
        throw err;
      });
      if (existing) throw new LcowError('EEXIST', `layer ${id} already has ${existing.isSandbox ? SANDBOX_FILE : LAYER_FILE}`, { id });
      const work = this.layout.workDir(id, 'applying');
      await fs.mkdir(work, { mode: 0o755 });
      try {
        if (existing === null) await writeChain(work, await chainForChild(this.layout, parent));
        const { sizeBytes } = await this.conversions.convert(tar, `${work}/${LAYER_FILE}`, { signal: opts.signal });
        if (existing === null) await fs.rename(work, this.layout.dir(id));
        else await fs.rename(`${work}/${LAYER_FILE}`, this.layout.layerFile(id));
        this.log.debug({ id, parent, sizeBytes }, 'layer applied');
        return sizeBytes;
      } finally {
        await fs.rm(work, { recursive: true, force: true });
      }
    });
  }

  /** The layer's content as a tar (whiteouts for deletions); read on the host. */
  async diff(id: string, _parent = ''): Promise<Readable> {
    const d = await this.quiescentImage(id, 'diff');
    return typedFs('diff', { id }, async () => (d.isSandbox ? sandboxToTar(d.file, { logger: this.log }) : layerToTar(d.file, { logger: this.log })));
  }

  /** What the layer adds, modifies and deletes relative to its parents. */
  async changes(id: string, _parent = ''): Promise<Change[]> {
    const d = await this.quiescentImage(id, 'changes');
    const parents = await this.quiescentParents(id, 'changes');
    return typedFs('changes', { id }, async () => hostChanges(d.file, parents));
  }

  /** Bytes of the regular files the layer adds or modifies. */
  async diffSize(id: string, _parent = ''): Promise<number> {
    const d = await this.quiescentImage(id, 'diffSize');
    const parents = await this.quiescentParents(id, 'diffSize');
    return typedFs('diffSize', { id }, async () => hostDiffSize(d.file, parents));
  }

  /** Read named files of the layer (tar-split reassembly); close() when done. */
  async diffGetter(id: string): Promise<FileGetCloser> {
    const d = await this.quiescentImage(id, 'diffGetter');
    return typedFs('diffGetter', { id }, async () => hostDiffGetter(d.file));
  }

  // --------------------------------------------------------------- facts

  async getMetadata(id: string): Promise<Record<string, string>> {
    this.ready(id);
    const d = await findLayerImage(this.layout, id);
    const parents = await readParentIds(this.layout, id);
    return {
      dir: this.layout.dir(id),
      kind: d ? (d.isSandbox ? 'sandbox' : 'layer') : 'empty',
      ...(d ? { file: d.file, sizeBytes: String(d.sizeBytes) } : {}),
      parents: parents.join(','),
    };
  }

  /** The layer's directory on the host. */
  async getLayerPath(id: string): Promise<string> {
    this.ready(id);
    await findLayerImage(this.layout, id);
    return this.layout.dir(id);
  }

  status(): DriverStatus {
    return {
      driver: 'lcow',
      mode: this.svms.mode,
      dataRoot: this.layout.root,
      serviceVms: this.svms.ids(),
      backend: this.backendName,
      guestAgent: this.guestAgent,
      sandboxSizeGB: this.options.sandboxSizeGB,
      mounted: [...this.mounts.keys()],
    };
  }

  /**
   * Driver shutdown: unmount whatever is still got, force-stop every service
   * VM, end the conversion workers, finish crash leftovers, give the data
   * root back (another process may open it then). Every step is tried; the
   * first error is thrown. The driver is closed afterwards: verbs are EINVAL
   * (open the root again); a second cleanup does nothing.
   */
  async cleanup(): Promise<void> {
    const lock = this.rootLock;
    if (!lock) return;
    let first: unknown;
    const note = (err: unknown, what: string) => {
      this.log.warn({ err: asError(err) }, `cleanup: ${what}`);
      first ??= err;
    };
    for (const [id, m] of [...this.mounts]) {
      this.mounts.delete(id);
      await m.handle.close().catch((e: unknown) => note(e, `unmount ${id}`));
    }
    await this.svms.stopAll().catch((e: unknown) => note(e, 'stop service VMs'));
    await this.conversions.close().catch((e: unknown) => note(e, 'end conversion workers'));
    await typedFs('cleanup', { root: this.layout.root }, () => this.collectLeftovers()).catch((e: unknown) => note(e, 'leftovers'));
    this.rootLock = undefined;
    await lock.release().catch((e: unknown) => note(e, 'release the data root'));
    if (first !== undefined) throw asError(first);
  }

  // ------------------------------------------------------------ internals

  private assertOpen(): void {
    if (!this.rootLock) throw new LcowError('EINVAL', `the driver on ${this.layout.root} was cleaned up; open the data root again`, { root: this.layout.root });
  }

  /** A verb's first check: the driver is open and `id` is a layer id. */
  private ready(id: string): void {
    this.assertOpen();
    checkLayerId(id);
  }

  /** A verb's work under the id's lock, its file-system failures typed. */
  private locked<T>(verb: string, id: string, fn: () => Promise<T>): Promise<T> {
    return typedFs(verb, { id }, () => this.ids.run(id, fn));
  }

  private async createDir(id: string, parent: string, fill: (work: string) => Promise<void>): Promise<void> {
    if (await this.exists(id)) throw new LcowError('EEXIST', `layer ${id} already exists`, { id });
    const chain = await chainForChild(this.layout, parent);
    const work = this.layout.workDir(id, 'creating');
    await fs.mkdir(work, { mode: 0o755 });
    try {
      await writeChain(work, chain);
      await fill(work);
      await fs.rename(work, this.layout.dir(id));
    } catch (err) {
      await fs.rm(work, { recursive: true, force: true });
      throw err;
    }
  }

  private sandboxSize(opts: CreateReadWriteOptions): number {
    const fromStorageOpt = Object.entries(opts.storageOpt ?? {}).find(([k]) => k.toLowerCase() === 'lcow.sandboxsize');
    if (fromStorageOpt) return parseLcowOptions([`lcow.sandboxsize=${fromStorageOpt[1]}`]).sandboxSizeGB;
    const size = opts.sizeGB ?? this.options.sandboxSizeGB;
    if (!Number.isSafeInteger(size) || size < DEFAULT_SANDBOX_SIZE_GB || size > MAX_SANDBOX_SIZE_GB) {
      throw new LcowError('EBADOPTION', `sandbox size ${size} GB must be a whole number from ${DEFAULT_SANDBOX_SIZE_GB} to ${MAX_SANDBOX_SIZE_GB}`, {
        option: 'sizeGB',
        value: size,
      });
    }
    return size;
  }

  /** A got layer (get without put) that is `id` or has it in its chain, if any. */
  private async gotLayerUsing(id: string): Promise<string | undefined> {
    return this.mounts.has(id) ? id : this.gotLayerAbove(id, () => true);
  }

  /** A got layer other than `id`, accepted by `which`, that has `id` in its chain. */
  private async gotLayerAbove(id: string, which: (m: MountEntry) => boolean): Promise<string | undefined> {
    for (const [got, m] of this.mounts) {
      if (got === id || !which(m)) continue;
      const parents = await readParentIds(this.layout, got).catch(() => [] as string[]);
      if (parents.includes(id)) return got;
    }
    return undefined;
  }

  /** The images below a layer, nearest first: read-only layers and read-write layers' sandboxes, each with content. */
  private async parentImages(id: string): Promise<LayerDetails[]> {
    const out: LayerDetails[] = [];
    for (const p of await readParentIds(this.layout, id)) out.push(await layerImage(this.layout, p));
    return out;
  }

  /**
   * A read-write parent mounted in a service VM is being written there: it
   * can be neither read on the host nor attached read-only below another
   * layer (EBUSY, like a mounted sandbox itself).
   */
  private refuseMountedParent(id: string, parent: LayerDetails, verb: string): void {
    if (parent.isSandbox && this.mounts.get(parent.id)?.handle.isMounted) {
      throw new LcowError('EBUSY', `${verb}: layer ${id} has a read-write parent ${parent.id} that is mounted in a service VM; put it first`, {
        id,
        parent: parent.id,
        verb,
      });
    }
  }

  /** The parents' image files for a host-side read, nearest first (a read-write parent's sandbox is read from its upper dir). */
  private async quiescentParents(id: string, verb: string): Promise<string[]> {
    const parents = await this.parentImages(id);
    for (const p of parents) this.refuseMountedParent(id, p, verb);
    return parents.map((p) => p.file);
  }

  /**
   * The layers below `id` as its union takes them, nearest first: layer.vhd
   * files, and the sandboxes of read-write parents (moby's `-init` layers)
   * that have an upper directory — read-only there, so a parent that is
   * mounted read-write is EBUSY, and so is mounting a sandbox read-write
   * while it lies under a mounted layer. (Two VMs racing to do both at once
   * are stopped by QEMU's image locks: a disk open read-only shares no write.)
   */
  private async lowerLayers(id: string): Promise<ContainerLayer[]> {
    const out: ContainerLayer[] = [];
    for (const p of await this.parentImages(id)) {
      this.refuseMountedParent(id, p, 'get');
      if (!p.isSandbox) out.push(p.file);
      else if (await hasUpperDir(p.file)) out.push({ scratchPath: p.file });
    }
    return out;
  }

  private async refuseIfLowerOfMounted(id: string): Promise<void> {
    const got = await this.gotLayerAbove(id, (m) => m.handle.isMounted);
    if (got !== undefined) throw new LcowError('EBUSY', `get: sandbox ${id} lies under ${got}, which is mounted; put ${got} first`, { id, usedBy: got });
  }

  private async rootfsSpec(id: string): Promise<RootfsSpec> {
    const d = await layerImage(this.layout, id);
    if (d.isSandbox) await this.refuseIfLowerOfMounted(id);
    const lower = await this.lowerLayers(id);
    // The container base dir is always a lower too (layer-handle.ts), so a
    // layer or sandbox without parents still has the lower dirs an overlay needs.
    if (!d.isSandbox) return { layers: [d.file, ...lower] };
    return { layers: lower, sandbox: d.file };
  }

  /** The layer's image for a host-side read; a sandbox that is mounted in a VM is EBUSY (its image is changing). */
  private async quiescentImage(id: string, verb: string): Promise<LayerDetails> {
    this.ready(id);
    const d = await layerImage(this.layout, id);
    if (d.isSandbox && this.mounts.get(id)?.handle.isMounted) {
      throw new LcowError('EBUSY', `${verb}: sandbox ${id} is mounted in a service VM; put it first`, { id, verb });
    }
    return d;
  }

  private loadBackend(): Promise<HypervisorBackend> {
    this.backend ??= resolveBackend(this.backendChoice).then(
      (b) => {
        this.backendName = b.name;
        this.guestAgent = b.guestAgent;
        return b;
      },
      (err: unknown) => {
        this.backend = undefined; // not remembered: the next VM start tries again
        throw err;
      },
    );
    return this.backend;
  }

  private async collectLeftovers(): Promise<void> {
    for (const name of await fs.readdir(this.layout.root)) {
      const kind = this.layout.classify(name);
      if (kind !== 'removing' && kind !== 'work') continue;
      this.log.info({ dir: name }, 'removing crash leftover');
      await fs.rm(`${this.layout.root}/${name}`, { recursive: true, force: true });
    }
  }
}
