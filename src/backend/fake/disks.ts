/**
 * The fake host: disk files by host path. A test defines a disk's size and
 * contents; a path never defined is an empty disk whose size is read from the
 * real file (so callers with real layer files, e.g. the driver's tests, need
 * not define anything). Contents persist across attach/detach, which is how a
 * test sees a write through a read-write mount "on the host" afterwards.
 */
import { stat } from 'node:fs/promises';
import { LcowError } from '../../errors.js';
import { FsTree, type FakeFileSpec } from './fs-tree.js';

export interface FakeDiskDefinition {
  /** File size in bytes (decides VPMEM fit). Default 1 MiB. */
  sizeBytes?: number;
  files?: Record<string, FakeFileSpec>;
  /** addVpmemDevice refuses this file as 'unsuitable'. */
  pmemUnsuitable?: boolean;
}

export interface FakeDisk {
  readonly hostPath: string;
  sizeBytes: number | undefined;
  pmemUnsuitable: boolean;
  readonly tree: FsTree;
}

export class FakeDisks {
  private readonly disks = new Map<string, FakeDisk>();

  define(hostPath: string, def: FakeDiskDefinition = {}): FakeDisk {
    const disk: FakeDisk = { hostPath, sizeBytes: def.sizeBytes ?? 1024 * 1024, pmemUnsuitable: def.pmemUnsuitable ?? false, tree: FsTree.from(def.files) };
    this.disks.set(hostPath, disk);
    return disk;
  }

  /** The disk at hostPath, an empty one if never defined. */
  get(hostPath: string): FakeDisk {
    let d = this.disks.get(hostPath);
    if (!d) {
      d = { hostPath, sizeBytes: undefined, pmemUnsuitable: false, tree: new FsTree() };
      this.disks.set(hostPath, d);
    }
    return d;
  }

  has(hostPath: string): boolean {
    return this.disks.has(hostPath);
  }

  /** File size as uvm's HostFiles asks for it. */
  async size(hostPath: string): Promise<number> {
    const d = this.disks.get(hostPath);
    if (d?.sizeBytes !== undefined) return d.sizeBytes;
    try {
      return (await stat(hostPath)).size;
    } catch {
      throw new LcowError('ENOTFOUND', `no fake disk or file at ${hostPath}`, { hostPath });
    }
  }
}
