/**
 * Changes and DiffSize on the host. moby's LCOW driver returned nothing for
 * `Changes` and 0 for `DiffSize`; these compare the layer (or the sandbox's
 * upper dir) with the merged view of its parents instead.
 *
 * Semantics (moby's archive.Change kinds):
 *   - an object in the layer: 'modify' when the parents show something at
 *     that path, else 'add' (directories overlay copied up count as 'modify',
 *     as `docker diff` reports `C /etc`);
 *   - a whiteout: 'delete' when the parents show the path (a whiteout of
 *     nothing changes nothing);
 *   - an opaque directory: additionally 'delete' for each child the parents
 *     show that the layer does not have (their subtrees go with them).
 * Parents are nearest first. Sorted by path, byte order.
 */
import { compareNames, joinPath, type LayerStat } from './layer-fs.js';
import { LowerView } from './lower-view.js';
import { isFormatArtefact, isOpaqueXattrs, isWhiteout, refuseIndirect } from './overlay-encoding.js';
import { openDiffSource, type DiffSource, type SourceOptions } from './source.js';

export type ChangeKind = 'add' | 'modify' | 'delete';

export interface Change {
  /** Absolute path in the container's file system, e.g. '/etc/passwd'. */
  path: string;
  kind: ChangeKind;
}

export async function changes(layerOrSandboxPath: string, parentLayerPaths: string[], options: SourceOptions = {}): Promise<Change[]> {
  const out: Change[] = [];
  await withSources(layerOrSandboxPath, parentLayerPaths, options, (top, lower) =>
    walkChanges(top, lower, '/', (c) => {
      out.push(c);
    }),
  );
  return out.sort((a, b) => compareNames(a.path, b.path));
}

/** Bytes of the regular files the layer adds or modifies (each inode counted once). */
export async function diffSize(layerOrSandboxPath: string, parentLayerPaths: string[], options: SourceOptions = {}): Promise<number> {
  let total = 0;
  const seen = new Set<number>();
  await withSources(layerOrSandboxPath, parentLayerPaths, options, (top, lower) =>
    walkChanges(top, lower, '/', (c, stat) => {
      if (c.kind !== 'delete' && stat?.kind === 'file' && !seen.has(stat.inode)) {
        seen.add(stat.inode);
        total += stat.size;
      }
    }),
  );
  return total;
}

async function withSources(top: string, parents: string[], options: SourceOptions, fn: (top: DiffSource, lower: LowerView) => Promise<void>): Promise<void> {
  const opened: DiffSource[] = [];
  try {
    const topSource = await openDiffSource(top, options);
    opened.push(topSource);
    const parentSources: DiffSource[] = [];
    for (const p of parents) {
      const s = await openDiffSource(p, { open: options.open, kind: 'layer' });
      opened.push(s);
      parentSources.push(s);
    }
    if ((await topSource.stat('/'))?.kind !== 'dir') return; // a sandbox with no upper dir yet: no changes
    await fn(topSource, new LowerView(parentSources));
  } finally {
    await Promise.allSettled(opened.map((s) => s.close()));
  }
}

type Emit = (change: Change, stat: LayerStat | null) => void;

async function walkChanges(top: DiffSource, lower: LowerView, dir: string, emit: Emit): Promise<void> {
  const names = await top.fs.readdir(top.imagePath(dir));
  for (const name of names) {
    const path = joinPath(dir, name);
    const stat = await top.stat(path);
    if (!stat || (await isFormatArtefact(top.fs, top.imagePath(path), path, stat))) continue;
    const below = await lower.lookup(path);
    if (isWhiteout(stat)) {
      if (below) emit({ path, kind: 'delete' }, null);
      continue;
    }
    emit({ path, kind: below ? 'modify' : 'add' }, stat);
    if (stat.kind !== 'dir') continue;
    const xattrs = await top.fs.listXattrs(top.imagePath(path));
    // A redirected directory's children live under another lower path: not comparable here.
    refuseIndirect(xattrs, top.file, path);
    if (below?.kind === 'dir' && isOpaqueXattrs(xattrs)) {
      const here = new Set(await top.fs.readdir(top.imagePath(path)));
      for (const child of await lower.readdir(path)) if (!here.has(child)) emit({ path: joinPath(path, child), kind: 'delete' }, null);
    }
    await walkChanges(top, lower, path, emit);
  }
}
