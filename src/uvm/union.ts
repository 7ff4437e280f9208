/**
 * Union (overlay) mounts, ref-counted by target path. The same target asked
 * for again with the same layers shares the mount; with different layers it
 * is EMOUNTCONFLICT. The target is claimed in the VM's path registry, so a
 * union can not land on a disk's mount point either.
 */
import { LcowError } from '../errors.js';
import type { CombineLayersRequest, GuestOps } from '../backend/index.js';
import type { MountPoints } from './mount-points.js';
import { validateCombineRequest } from './overlay.js';
import { ReleaseOnce } from './release-once.js';
import { RefTable, type RefEntry } from './ref-table.js';
import type { VmGuard } from './vm-guard.js';

export type Combiner = Pick<GuestOps, 'combineLayers' | 'removeCombinedLayers'>;

export interface UnionMount {
  readonly target: string;
  readonly request: Readonly<CombineLayersRequest>;
  readonly released: boolean;
  release(): Promise<void>;
}

export class UnionManager {
  private readonly table = new RefTable<CombineLayersRequest>();

  constructor(
    private readonly vmId: string,
    private readonly combiner: Combiner,
    private readonly paths: MountPoints,
    private readonly guard: VmGuard,
  ) {}

  async combine(request: CombineLayersRequest): Promise<UnionMount> {
    const req: CombineLayersRequest = { ...request, lowerDirs: [...request.lowerDirs] };
    validateCombineRequest(req, this.vmId);
    const entry = await this.table.acquire(req.target, async () => {
      this.paths.claim(req.target, 'union');
      try {
        await this.guard.do('combineLayers', () => this.combiner.combineLayers(req));
      } catch (err) {
        this.paths.free(req.target);
        throw err;
      }
      return req;
    });
    if (!sameUnion(entry.value, req)) {
      await this.remove(entry); // never the last reference: the first holder still has its own
      throw new LcowError('EMOUNTCONFLICT', `a different union is already mounted at ${req.target}`, { vmId: this.vmId, target: req.target });
    }
    return new UnionHandle(entry, this);
  }

  /** @internal the handle's release step. */
  remove(entry: RefEntry<CombineLayersRequest>): Promise<void> {
    return this.table.release(entry, async (req) => {
      await this.guard.undo('removeCombinedLayers', () => this.combiner.removeCombinedLayers(req.target));
      this.paths.free(req.target);
    });
  }

  get size(): number {
    return this.table.size;
  }
}

class UnionHandle implements UnionMount {
  readonly target: string;
  readonly request: Readonly<CombineLayersRequest>;
  private readonly once: ReleaseOnce;

  constructor(entry: RefEntry<CombineLayersRequest>, manager: UnionManager) {
    this.request = entry.value;
    this.target = entry.value.target;
    this.once = new ReleaseOnce('union mount', { target: this.target }, () => manager.remove(entry));
  }

  get released(): boolean {
    return this.once.released;
  }

  release(): Promise<void> {
    return this.once.release();
  }
}

function sameUnion(a: CombineLayersRequest, b: CombineLayersRequest): boolean {
  return a.upperDir === b.upperDir && a.workDir === b.workDir && a.lowerDirs.length === b.lowerDirs.length && a.lowerDirs.every((d, i) => d === b.lowerDirs[i]);
}
