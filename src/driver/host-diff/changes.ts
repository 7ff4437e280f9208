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
 * Parents are nearest first, each a read-only layer or a read-write one
 * (moby's `-init` layer under a container): a `.vhdx` parent is a sandbox,
 * read from its overlay upper directory, where whiteouts and opaque
 * directories mean what they mean in the union. Sorted by path bytes.
 *
 * One loop over an explicit stack, the parents' directories walked
 * alongside (lower-view.ts): work linear in the tree, memory the listings on
 * the current path (and, for `changes`, the result).
 */
import { bytesToText, joinBytePath, type ByteString } from '../../byte-names.js';
import { LcowError } from '../../errors.js';
import { HeldEntries } from '../../ext4/index.js';
import { HardLinks } from './hard-links.js';
import type { LayerDirent, LayerStat } from './layer-fs.js';
import { LowerDirs } from './lower-view.js';
import { isFormatArtefact, isOpaqueXattrs, isWhiteout, refuseIndirect } from './overlay-encoding.js';
import { openDiffSource, sourceKind, type DiffSource, type SourceOptions } from './source.js';

export type ChangeKind = 'add' | 'modify' | 'delete';

export interface Change {
  /**
   * Absolute path in the container's file system, e.g. '/etc/passwd'. A name
   * that is not UTF-8 keeps its bytes: each stray byte is U+DC80..U+DCFF
   * (PEP 383's surrogateescape), so `caf\xe9` and `caf\xe8` stay two paths;
   * textToBuffer (exported with the driver) gives the bytes back.
   */
  path: string;
  kind: ChangeKind;
}

/** The most changes one call returns (about 250 MiB of result); a layer past it is ETOOBIG, as no engine could hold the list. */
export const MAX_CHANGES = 2 ** 21;

export async function changes(layerOrSandboxPath: string, parentLayerPaths: string[], options: SourceOptions = {}): Promise<Change[]> {
  const out: Array<{ path: ByteString; kind: ChangeKind }> = [];
  await withSources(layerOrSandboxPath, parentLayerPaths, options, (top, rootIno, lower) =>
    walkChanges(top, rootIno, lower, async (path, kind) => {
      if (out.length >= MAX_CHANGES) {
        throw new LcowError('ETOOBIG', `${layerOrSandboxPath} has more than ${MAX_CHANGES} changes`, { file: layerOrSandboxPath, max: MAX_CHANGES });
      }
      out.push({ path, kind });
    }),
  );
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // In place: the byte paths go as their text forms come.
  const result = out as unknown as Change[];
  for (const [i, c] of out.entries()) result[i] = { path: bytesToText(c.path), kind: c.kind };
  return result;
}

/**
 * Bytes of data in the regular files the layer adds or modifies, each inode
 * once: moby's ChangesSize, which sums file sizes, except that a sparse
 * file counts the bytes it holds (its allocated data, cut at its size), not
 * its holes — a 1 TiB file with one block of data is 4 KiB, as its diff is.
 */
export async function diffSize(layerOrSandboxPath: string, parentLayerPaths: string[], options: SourceOptions = {}): Promise<number> {
  let total = 0;
  const links = new HardLinks<true>();
  await withSources(layerOrSandboxPath, parentLayerPaths, options, (top, rootIno, lower) =>
    walkChanges(top, rootIno, lower, async (path, kind, stat, ino) => {
      if (kind === 'delete' || stat?.kind !== 'file') return;
      if (stat.nlink > 1 && links.earlier(stat, true)) return;
      for (const r of await top.fs.dataRegions(top.ref(path, ino), stat.size)) total += r.length;
    }),
  );
  return total;
}

type Walk = (top: DiffSource, rootIno: number, lower: LowerDirs) => Promise<void>;

async function withSources(top: string, parents: string[], options: SourceOptions, fn: Walk): Promise<void> {
  const opened: DiffSource[] = [];
  // The top and its parents are walked together: one cap on the entries they hold.
  const held = new HeldEntries();
  try {
    const topSource = await openDiffSource(top, options, held);
    opened.push(topSource);
    const parentSources: DiffSource[] = [];
    for (const p of parents) {
      // A parent's upper dir is where the union put it (the top's upperDir/containerId are the top's own).
      const s = await openDiffSource(p, { open: options.open, kind: sourceKind(p) }, held);
      opened.push(s);
      parentSources.push(s);
    }
    const root = await topSource.lookup('/' as ByteString);
    if (root?.kind !== 'dir') return; // a sandbox with no upper dir yet: no changes
    await fn(topSource, root.inode, await LowerDirs.root(parentSources));
  } finally {
    await Promise.allSettled(opened.map((s) => s.close()));
  }
}

/** One change; for add/modify, the object's stat and inode number. */
type Emit = (path: ByteString, kind: ChangeKind, stat: LayerStat | null, ino: number) => Promise<void>;

interface Frame {
  path: ByteString;
  entries: LayerDirent[];
  next: number;
  lower: LowerDirs;
}

async function walkChanges(top: DiffSource, rootIno: number, rootLower: LowerDirs, emit: Emit): Promise<void> {
  const root = '/' as ByteString;
  const stack: Frame[] = [{ path: root, entries: await top.fs.list(top.ref(root, rootIno)), next: 0, lower: rootLower }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const e = frame.entries[frame.next++];
    if (e === undefined) {
      stack.pop();
      top.fs.done(frame.entries);
      frame.lower.done();
      continue;
    }
    const path = joinBytePath(frame.path, e.name);
    const ref = top.ref(path, e.ino);
    const stat = await top.fs.stat(ref);
    if (await isFormatArtefact(top.fs, ref, path, stat)) continue;
    const below = await frame.lower.lookup(e.name);
    if (isWhiteout(stat)) {
      if (below) await emit(path, 'delete', null, e.ino);
      continue;
    }
    await emit(path, below ? 'modify' : 'add', stat, e.ino);
    if (stat.kind !== 'dir') continue;
    const xattrs = await top.fs.listXattrs(ref);
    // A redirected directory's children live under another lower path: not comparable here.
    refuseIndirect(xattrs, top.file, bytesToText(path));
    const entries = await top.fs.list(ref);
    const lower = await frame.lower.child(e.name, below);
    if (below?.kind === 'dir' && isOpaqueXattrs(xattrs)) {
      // Both lists are sorted by bytes: every name the parents show and this directory lacks.
      let i = 0;
      for (const name of await lower.names()) {
        while (i < entries.length && entries[i]!.name < name) i++;
        if (entries[i]?.name !== name) await emit(joinBytePath(path, name), 'delete', null, 0);
      }
    }
    stack.push({ path, entries, next: 0, lower });
  }
}
