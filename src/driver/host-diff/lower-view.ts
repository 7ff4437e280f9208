/**
 * What the parent chain shows at one directory, walked alongside the top
 * layer: the overlay lookup rules applied over read-only layers, nearest
 * first, without mounting anything.
 *
 * Below a directory path, layer i counts while the path is a directory in
 * it; a whiteout or a non-directory at the path hides it in every layer
 * further down, and a directory marked opaque is the last layer that counts.
 * Each counting layer's listing of the directory is held while the walk is
 * inside it, so a child is a binary search, not a path lookup from the root
 * (a lookup per entry made deep trees cost the square of their depth).
 */
import { joinBytePath, type ByteString } from '../../byte-names.js';
import type { LayerDirent, LayerStat } from './layer-fs.js';
import { isFormatArtefact, isOpaqueDir, isWhiteout } from './overlay-encoding.js';
import type { DiffSource } from './source.js';

interface LowerDir {
  layer: DiffSource;
  entries: LayerDirent[];
}

/** The entry named `name` in a listing sorted by name bytes. */
function findEntry(entries: readonly LayerDirent[], name: ByteString): LayerDirent | undefined {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = entries[mid]!;
    if (e.name === name) return e;
    if (e.name < name) lo = mid + 1;
    else hi = mid;
  }
  return undefined;
}

export class LowerDirs {
  private constructor(
    /** The directory's layer path. */
    readonly path: ByteString,
    private readonly dirs: LowerDir[],
  ) {}

  /** The parents' root directories, nearest first. */
  static async root(layers: DiffSource[]): Promise<LowerDirs> {
    const root = '/' as ByteString;
    const dirs: LowerDir[] = [];
    for (const layer of layers) {
      const st = await layer.lookup(root);
      if (st?.kind === 'dir') dirs.push({ layer, entries: await layer.fs.list(layer.ref(root, st.inode)) });
    }
    return new LowerDirs(root, dirs);
  }

  /** The walk has left this directory: its listings are done. */
  done(): void {
    for (const d of this.dirs) d.layer.fs.done(d.entries);
  }

  /** The stat of the object the merged parents show at `name` here, or null. */
  async lookup(name: ByteString): Promise<LayerStat | null> {
    for (const d of this.dirs) {
      const found = await this.entry(d, name);
      if (found === 'absent') continue;
      return found === 'hidden' ? null : found;
    }
    return null;
  }

  /**
   * What the parents show inside the subdirectory `name` (no layer when they
   * show no directory there). `below` is lookup(name) when the caller has it:
   * anything but a directory means nothing below, without scanning again.
   */
  async child(name: ByteString, below?: LayerStat | null): Promise<LowerDirs> {
    const path = joinBytePath(this.path, name);
    const dirs: LowerDir[] = [];
    if (below !== undefined && below?.kind !== 'dir') return new LowerDirs(path, dirs);
    for (const d of this.dirs) {
      const found = await this.entry(d, name);
      if (found === 'absent') continue;
      if (found === 'hidden' || found.kind !== 'dir') break;
      const ref = d.layer.ref(path, found.inode);
      dirs.push({ layer: d.layer, entries: await d.layer.fs.list(ref) });
      if (await isOpaqueDir(d.layer.fs, ref, found)) break;
    }
    return new LowerDirs(path, dirs);
  }

  /** Names the merged parents show here, sorted by bytes. */
  async names(): Promise<ByteString[]> {
    const decided = new Set<ByteString>();
    const visible: ByteString[] = [];
    for (const d of this.dirs) {
      for (const e of d.entries) {
        if (decided.has(e.name)) continue;
        const found = await this.entry(d, e.name);
        if (found === 'absent') continue;
        decided.add(e.name);
        if (found !== 'hidden') visible.push(e.name);
      }
    }
    return visible.sort();
  }

  /** `name` in one layer's listing: its stat, 'hidden' (a whiteout), or 'absent' (missing, or the formatter's lost+found). */
  private async entry(d: LowerDir, name: ByteString): Promise<LayerStat | 'hidden' | 'absent'> {
    const e = findEntry(d.entries, name);
    if (e === undefined) return 'absent';
    const path = joinBytePath(this.path, name);
    const ref = d.layer.ref(path, e.ino);
    const st = await d.layer.fs.stat(ref);
    if (await isFormatArtefact(d.layer.fs, ref, path, st)) return 'absent';
    return isWhiteout(st) ? 'hidden' : st;
  }
}
