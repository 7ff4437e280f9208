/**
 * What the parent chain shows at a path: the overlay lookup rules applied
 * over read-only layers, nearest first, without mounting anything.
 *
 * In layer i, for path /a/b/c:
 *   - an ancestor that is a whiteout, or is not a directory, hides the path
 *     in every layer below;
 *   - an ancestor directory marked opaque stops the search below layer i;
 *   - the path itself: present → visible (a whiteout → hidden).
 * Lookups are cached per layer and path; a diff touches few paths, so this
 * beats materialising the whole merged tree.
 */
import { compareNames, joinPath, type LayerStat } from './layer-fs.js';
import { isFormatArtefact, isOpaqueDir, isWhiteout } from './overlay-encoding.js';
import type { DiffSource } from './source.js';

type LayerLookup = { state: 'found'; stat: LayerStat } | { state: 'hidden' } | { state: 'absent'; opaqueAbove: boolean };

export class LowerView {
  private readonly stats = new Map<string, Promise<LayerStat | null>>();
  private readonly opaque = new Map<string, Promise<boolean>>();

  /** `layers`: the parents, nearest first. */
  constructor(private readonly layers: DiffSource[]) {}

  /** The stat of the object visible at `path` in the merged parents, or null. */
  async lookup(path: string): Promise<LayerStat | null> {
    if (path === '/') return null;
    for (const [i, layer] of this.layers.entries()) {
      const r = await this.lookupInLayer(i, layer, path);
      if (r.state === 'found') return r.stat;
      if (r.state === 'hidden' || r.opaqueAbove) return null;
    }
    return null;
  }

  /** Names visible in the merged parents' directory `dir`, sorted. */
  async readdir(dir: string): Promise<string[]> {
    const candidates = new Set<string>();
    for (const layer of this.layers) {
      const st = await layer.stat(dir);
      if (st?.kind === 'dir') for (const n of await layer.fs.readdir(layer.imagePath(dir))) candidates.add(n);
    }
    const visible: string[] = [];
    for (const name of [...candidates].sort(compareNames)) if (await this.lookup(joinPath(dir, name))) visible.push(name);
    return visible;
  }

  private async lookupInLayer(i: number, layer: DiffSource, path: string): Promise<LayerLookup> {
    const parts = path.split('/').filter(Boolean);
    let opaqueAbove = false;
    let cur = '';
    for (const [k, part] of parts.entries()) {
      cur += '/' + part;
      const st = await this.stat(i, layer, cur);
      if (!st) return { state: 'absent', opaqueAbove };
      if (isWhiteout(st)) return { state: 'hidden' };
      if (k === parts.length - 1) return { state: 'found', stat: st };
      if (st.kind !== 'dir') return { state: 'hidden' };
      if (await this.isOpaque(i, layer, cur, st)) opaqueAbove = true;
    }
    return { state: 'absent', opaqueAbove };
  }

  /** `i` is `layer`'s index, which keys the caches. */
  private stat(i: number, layer: DiffSource, path: string): Promise<LayerStat | null> {
    const key = `${i}\0${path}`;
    let p = this.stats.get(key);
    if (!p) {
      p = layer.stat(path).then(async (st) => (st && (await isFormatArtefact(layer.fs, layer.imagePath(path), path, st)) ? null : st));
      this.stats.set(key, p);
    }
    return p;
  }

  private isOpaque(i: number, layer: DiffSource, path: string, st: LayerStat): Promise<boolean> {
    const key = `${i}\0${path}`;
    let p = this.opaque.get(key);
    if (!p) {
      p = isOpaqueDir(layer.fs, layer.imagePath(path), st);
      this.opaque.set(key, p);
    }
    return p;
  }
}
