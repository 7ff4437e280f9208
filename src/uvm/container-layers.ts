/**
 * A container's root file system inside a UVM: its read-only layers (VPMEM
 * or SCSI), its read-write scratch (SCSI), and the overlay that unites them —
 * hcsshim's MountLCOWLayers / CombineLayersLCOW / release, as one handle.
 *
 * Layout in the guest (hcsshim's, internal/layers/lcow.go):
 *   layers   /run/m/<n>                      (short: 127 of them fit the overlay's page)
 *            /run/m/<n>/upper                a read-write layer below the container (a ScratchLayer)
 *   scratch  <guestRoot>                     read-write: the container's directory is its scratch disk
 *   upper    <guestRoot>/upper, <guestRoot>/work             (default: one container per scratch)
 *         or <guestRoot>/scratch/<containerId>/{upper,work} (options.containerId, as hcsshim)
 *   rootfs   <guestRoot>/rootfs              the overlay; read-only when there is no scratch
 *   base     options.baseDirs                guest directories under every layer (the caller's)
 * The scratch is mounted at the rootfs's parent because a GCS newer than
 * v0.12 bind-mounts `<ScratchPath>/bundle` over that parent whenever the
 * scratch is not under it, and only a container's delete undoes that bind
 * (gcs-bridge-facts.md §3.4).
 *
 * Release order: the union first (nothing below it can go while it is
 * mounted), then the scratch and the layers, all at once by default
 * (`releaseConcurrency` bounds it), started top-most first. Placement is
 * concurrent too (`concurrency`, default 4): each device is a guest round
 * trip plus a hot-plug, and 127 of them one by one took ~15 s; placing 8 at
 * a time was slower than 4 (a mount is guest CPU, which does not overlap).
 * A release is mostly the guest kernel waiting (umount's RCU grace periods,
 * a virtio-pmem unbind: 64 unbinds take 4.2 s one after another, 0.43 s side
 * by side), and the backend runs the guest steps pending together as one
 * guest process with each step in its own subshell (QEMU: guest-batch.ts),
 * so the more releases are pending at once, the fewer processes and the
 * more waits overlap: measured under TCG with 127 layers (64 VPMEM + 63
 * SCSI), 8 at a time 5.0–6.8 s, 64 at a time 4.3–4.8 s, all at once
 * 2.5–2.8 s (0.53–0.58× the mount). Every step is tried; the first error is thrown
 * (the rest are logged). Steps that succeeded stay done, so calling
 * release() again retries only what failed.
 */
import { posix } from 'node:path';
import PQueue from 'p-queue';
import { LcowError, asError } from '../errors.js';
import type { LayerMount } from './layers.js';
import { ReleaseOnce } from './release-once.js';
import type { ScsiDisk } from './scsi/manager.js';
import type { UnionMount } from './union.js';
import type { UtilityVM } from './utility-vm.js';

export interface MountContainerLayersOptions {
  /** Put upper/work under `<scratch>/scratch/<containerId>/` so containers can share one scratch. */
  containerId?: string;
  /** Layers placed at once (default 4). Placement order does not affect the union's order. */
  concurrency?: number;
  /** Layers released at once (default: all; see above). */
  releaseConcurrency?: number;
  /**
   * Guest directories under every layer (the bottom-most lower dirs), which
   * must exist in the guest: e.g. the mount points a container runtime
   * needs, so that it never creates them in the scratch. Not released.
   */
  baseDirs?: readonly string[];
}

/**
 * A read-write layer below the container — moby's Linux daemon puts one (the
 * `-init` layer) under every container. Its sandbox is attached read-only
 * (SCSI) and its upper directory joins the union as a lower directory, where
 * overlayfs gives its whiteouts and opaque directories their meaning, as it
 * does for overlay2's init layer. The caller keeps the sandbox from being
 * mounted read-write anywhere meanwhile, and gives only sandboxes that have
 * an upper directory (one never mounted has none, and adds nothing).
 */
export interface ScratchLayer {
  readonly scratchPath: string;
  /** Its upper dir is `<scratch>/scratch/<containerId>/upper` (as MountContainerLayersOptions.containerId). */
  readonly containerId?: string;
}

/** A layer of a container's rootfs: a read-only `layer.vhd` by host path, or a read-write layer's sandbox. */
export type ContainerLayer = string | ScratchLayer;

export interface ContainerLayers {
  /** The container's root file system in the guest (`<guestRoot>/rootfs`). */
  readonly rootfs: string;
  /** Top-most first, as given. */
  readonly layers: readonly LayerMount[];
  readonly scratch: ScsiDisk | undefined;
  readonly union: UnionMount;
  readonly released: boolean;
  release(): Promise<void>;
}

/** Where a container's upper and work directories go on its scratch mount. */
export function scratchDirs(scratchMount: string, containerId?: string): { upperDir: string; workDir: string } {
  const base = containerId === undefined ? scratchMount : posix.join(scratchMount, 'scratch', containerId);
  return { upperDir: posix.join(base, 'upper'), workDir: posix.join(base, 'work') };
}

/**
 * Mount a container's layers and scratch and unite them.
 * @param layerPaths the layers below the container, top-most first: host paths of read-only `layer.vhd` files, or read-write layers' sandboxes
 * @param scratchPath host path of the read-write `sandbox.vhdx`; undefined → a read-only rootfs
 * @param guestRoot the container's directory in the guest; the rootfs is `<guestRoot>/rootfs`
 */
export async function mountContainerLayers(
  uvm: UtilityVM,
  layerPaths: readonly ContainerLayer[],
  scratchPath: string | undefined,
  guestRoot: string,
  options: MountContainerLayersOptions = {},
): Promise<ContainerLayers> {
  validate(uvm, layerPaths, scratchPath, guestRoot, options);
  const log = uvm.logger.child({ guestRoot });
  const undo: { release(): Promise<void> }[] = [];
  try {
    const concurrency = options.concurrency ?? 4;
    const layers = await placeLayers(uvm, layerPaths, concurrency, undo);
    let scratch: ScsiDisk | undefined;
    if (scratchPath !== undefined) {
      scratch = await uvm.scsi.add(scratchPath, { readOnly: false, mount: { guestPath: guestRoot } });
      undo.unshift(scratch);
    }
    const union = await uvm.unions.combine({
      lowerDirs: [...lowerDirsOf(layers), ...(options.baseDirs ?? [])],
      ...(scratch ? scratchDirs(scratch.guestPath as string, options.containerId) : {}),
      target: posix.join(guestRoot, 'rootfs'),
    });
    log.debug({ layers: layers.length, scratch: scratch?.guestPath, rootfs: union.target }, 'container layers mounted');
    return new ContainerLayersHandle(union, scratch, layers, options.releaseConcurrency ?? Infinity, log);
  } catch (err) {
    // Undo what was done, newest first; the original error is what the caller needs.
    for (const h of undo) {
      await h.release().catch((e: unknown) => {
        log.warn({ err: asError(e) }, 'rollback step failed; adopted as an orphan');
        uvm.orphans.adopt(`container layer of ${guestRoot}`, () => h.release());
      });
    }
    throw err;
  }
}

/** Same as `layers.release()`. */
export function unmountContainerLayers(layers: ContainerLayers): Promise<void> {
  return layers.release();
}

/**
 * The union's lower dirs, top-most first. The same layer file named twice
 * shares one mount, and overlayfs refuses a repeated lower dir (ELOOP); the
 * lower repetition adds nothing (every name in it is found in the upper one
 * first), so only the top-most occurrence is kept.
 */
function lowerDirsOf(layers: readonly LayerMount[]): string[] {
  return [...new Set(layers.map((l) => l.guestPath))];
}

async function placeLayers(
  uvm: UtilityVM,
  layerPaths: readonly ContainerLayer[],
  concurrency: number,
  undo: { release(): Promise<void> }[],
): Promise<LayerMount[]> {
  const queue = new PQueue({ concurrency });
  const settled = await Promise.allSettled(layerPaths.map((p) => queue.add(() => (typeof p === 'string' ? uvm.addLayer(p) : placeScratchLayer(uvm, p)))));
  const placed: LayerMount[] = [];
  let firstError: unknown;
  for (const s of settled) {
    if (s.status === 'fulfilled') placed.push(s.value);
    else firstError ??= s.reason;
  }
  // Layers are released top-most first, like every other teardown of them.
  undo.push(...placed);
  if (firstError !== undefined) throw asError(firstError);
  return placed;
}

/** A read-write layer's sandbox, read-only on SCSI; its upper directory is the lower dir it gives. */
async function placeScratchLayer(uvm: UtilityVM, layer: ScratchLayer): Promise<LayerMount> {
  const disk = await uvm.scsi.add(layer.scratchPath, { readOnly: true, mount: {} });
  return {
    hostPath: layer.scratchPath,
    guestPath: scratchDirs(disk.guestPath as string, layer.containerId).upperDir,
    placement: 'scsi',
    fallbackReason: undefined,
    get released() {
      return disk.released;
    },
    release: () => disk.release(),
  };
}

function validate(
  uvm: UtilityVM,
  layerPaths: readonly ContainerLayer[],
  scratchPath: string | undefined,
  guestRoot: string,
  options: MountContainerLayersOptions,
): void {
  const ctx = { vmId: uvm.id, guestRoot };
  const given: unknown = layerPaths; // checked as JavaScript callers may pass anything; Array.isArray(layerPaths) would widen it to any[]
  if (!Array.isArray(given)) throw new LcowError('EINVAL', 'layers must be an array', ctx);
  const baseDirs = options.baseDirs ?? [];
  // Lower dirs are the layers and the base dirs; overlayfs wants one with an
  // upper, two without (see overlay.ts): say so before touching the VM.
  const lowers = layerPaths.length + baseDirs.length;
  if (lowers === 0) throw new LcowError('EINVAL', 'a container needs at least one read-only layer or base dir', ctx);
  if (scratchPath === undefined && lowers < 2) {
    throw new LcowError('EINVAL', 'a read-only rootfs (no scratch) needs at least two lower dirs (layers and base dirs)', {
      ...ctx,
      layers: layerPaths.length,
    });
  }
  for (const d of baseDirs) {
    if (typeof d !== 'string' || !posix.isAbsolute(d)) throw new LcowError('EINVAL', `base dir ${JSON.stringify(d)} must be an absolute guest path`, ctx);
  }
  if (!posix.isAbsolute(guestRoot)) throw new LcowError('EINVAL', `guestRoot ${guestRoot} must be an absolute guest path`, ctx);
  for (const l of layerPaths as readonly unknown[]) {
    const file: unknown = typeof l === 'object' && l !== null ? (l as Partial<ScratchLayer>).scratchPath : l;
    if (typeof file !== 'string' || file === '') throw new LcowError('EINVAL', 'a layer is a host path or { scratchPath }', ctx);
  }
  for (const id of [options.containerId, ...layerPaths.map((l) => (typeof l === 'string' ? undefined : l.containerId))]) {
    if (id !== undefined && !/^[A-Za-z0-9_.-]+$/.test(id)) throw new LcowError('EINVAL', `containerId ${id} must be a plain name`, { ...ctx, containerId: id });
  }
  for (const [name, c] of [
    ['concurrency', options.concurrency],
    ['releaseConcurrency', options.releaseConcurrency],
  ] as const) {
    if (c !== undefined && (!Number.isSafeInteger(c) || c < 1)) throw new LcowError('EINVAL', `${name} must be a positive integer`, { ...ctx, [name]: c });
  }
}

class ContainerLayersHandle implements ContainerLayers {
  readonly rootfs: string;
  private readonly once: ReleaseOnce;

  constructor(
    readonly union: UnionMount,
    readonly scratch: ScsiDisk | undefined,
    readonly layers: readonly LayerMount[],
    releaseConcurrency: number,
    log: UtilityVM['logger'],
  ) {
    this.rootfs = union.target;
    this.once = new ReleaseOnce('container layers', { rootfs: this.rootfs }, async () => {
      let first: unknown;
      const step = async (s: { released: boolean; release(): Promise<void> }) => {
        if (s.released) return;
        try {
          await s.release();
        } catch (err) {
          log.warn({ err: asError(err) }, 'container layer release step failed');
          first ??= err;
        }
      };
      await step(union);
      const queue = new PQueue({ concurrency: releaseConcurrency });
      await Promise.all([...(scratch ? [scratch] : []), ...layers].map((s) => queue.add(() => step(s))));
      if (first !== undefined) throw asError(first);
    });
  }

  get released(): boolean {
    return this.once.released;
  }

  release(): Promise<void> {
    return this.once.release();
  }
}
