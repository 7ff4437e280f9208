/**
 * The fake guest's file system view: its own root tree, a mount table, and
 * overlay lookups with the kernel's union rules — upper first, then lower
 * dirs top-most first; a whiteout hides a name from the layers below; an
 * opaque directory hides the lower directories' contents; a file or
 * whiteout on an ancestor hides everything under it.
 */
import { LcowError } from '../../errors.js';
import { FsTree, ancestors, relPath, type FakeNode } from './fs-tree.js';

/** A directory inside one tree (a layer of a union). */
export interface TreeLoc {
  tree: FsTree;
  prefix: string;
}

export type MountRecord =
  | { kind: 'disk'; device: string; tree: FsTree; readOnly: boolean }
  | { kind: 'overlay'; lowers: TreeLoc[]; upper?: TreeLoc; readOnly: boolean; data: string; sources: string[] };

type Resolved = { mountPath: string | undefined; rec: MountRecord | undefined; rel: string };

function join(prefix: string, rel: string): string {
  return prefix === '' ? rel : rel === '' ? prefix : `${prefix}/${rel}`;
}

export function guestError(code: 'ENOTFOUND' | 'EBUSY' | 'EGUEST' | 'EINVAL', message: string, context: Record<string, unknown>): LcowError {
  return new LcowError(code, message, context);
}

export class GuestFs {
  readonly root = new FsTree();
  readonly mounts = new Map<string, MountRecord>();

  resolve(guestPath: string): Resolved {
    const rel = relPath(guestPath);
    let best: string | undefined;
    for (const m of this.mounts.keys()) {
      const mr = relPath(m);
      if ((rel === mr || rel.startsWith(`${mr}/`) || mr === '') && (best === undefined || mr.length > relPath(best).length)) best = m;
    }
    if (best === undefined) return { mountPath: undefined, rec: undefined, rel };
    const mr = relPath(best);
    return { mountPath: best, rec: this.mounts.get(best), rel: rel === mr ? '' : rel.slice(mr.length + (mr === '' ? 0 : 1)) };
  }

  /** The layers a path is looked up in, top-most first. */
  private layersOf(r: Resolved): TreeLoc[] {
    if (!r.rec) return [{ tree: this.root, prefix: '' }];
    if (r.rec.kind === 'disk') return [{ tree: r.rec.tree, prefix: '' }];
    return [...(r.rec.upper ? [r.rec.upper] : []), ...r.rec.lowers];
  }

  stat(guestPath: string): FakeNode | undefined {
    const r = this.resolve(guestPath);
    return lookup(this.layersOf(r), r.rel);
  }

  /** Names in a directory, sorted; union-merged on an overlay. */
  list(guestPath: string): string[] {
    const r = this.resolve(guestPath);
    const node = this.stat(guestPath);
    if (node?.kind !== 'dir') throw guestError('ENOTFOUND', `${guestPath}: not a directory`, { guestPath });
    const seen = new Map<string, FakeNode>();
    for (const layer of this.layersOf(r)) {
      const here = layer.tree.get(join(layer.prefix, r.rel));
      if (here === undefined) continue;
      if (here.kind !== 'dir') break;
      for (const [name, n] of layer.tree.children(join(layer.prefix, r.rel))) if (!seen.has(name)) seen.set(name, n);
      if (here.opaque) break;
    }
    // Mount points show up as directories even if the tree underneath has none.
    for (const m of this.mounts.keys()) {
      const mr = relPath(m);
      const parent = ancestors(mr).at(-1) ?? '';
      if (mr !== '' && parent === relPath(guestPath) && !seen.has(mr.split('/').at(-1)!)) seen.set(mr.split('/').at(-1)!, { kind: 'dir' });
    }
    return [...seen]
      .filter(([, n]) => n.kind !== 'whiteout')
      .map(([name]) => name)
      .sort();
  }

  readFile(guestPath: string): Buffer {
    const n = this.stat(guestPath);
    if (n?.kind !== 'file') throw guestError('ENOTFOUND', `${guestPath}: no such file`, { guestPath });
    return n.data;
  }

  /** Where a write to guestPath lands: the disk itself, or the overlay's upper (copy-up of the parent chain). */
  private writable(guestPath: string): { tree: FsTree; rel: string } {
    const r = this.resolve(guestPath);
    if (!r.rec) return { tree: this.root, rel: r.rel };
    if (r.rec.readOnly || (r.rec.kind === 'overlay' && !r.rec.upper))
      throw guestError('EGUEST', `${guestPath}: read-only file system`, { guestPath, errno: 'EROFS' });
    if (r.rec.kind === 'disk') return { tree: r.rec.tree, rel: r.rel };
    const upper = r.rec.upper!;
    return { tree: upper.tree, rel: join(upper.prefix, r.rel) };
  }

  writeFile(guestPath: string, data: Buffer): void {
    const parent = ancestors(relPath(guestPath)).at(-1) ?? '';
    if (this.stat(`/${parent}`)?.kind !== 'dir') throw guestError('ENOTFOUND', `${guestPath}: no such directory`, { guestPath });
    const w = this.writable(guestPath);
    w.tree.set(w.rel, { kind: 'file', data });
  }

  mkdirp(guestPath: string): void {
    const w = this.writable(guestPath);
    w.tree.mkdirp(w.rel);
  }

  /** Remove a name; on an overlay a name that a lower layer still has becomes a whiteout. */
  remove(guestPath: string): void {
    if (this.stat(guestPath) === undefined) throw guestError('ENOTFOUND', `${guestPath}: no such file`, { guestPath });
    const r = this.resolve(guestPath);
    const w = this.writable(guestPath);
    w.tree.delete(w.rel);
    if (r.rec?.kind === 'overlay' && lookup(r.rec.lowers, r.rel) !== undefined) w.tree.set(w.rel, { kind: 'whiteout' });
  }

  /** A directory in a disk mount, as an overlay layer (nested overlays are not modelled). */
  locate(guestPath: string): { loc: TreeLoc; mountPath: string; readOnly: boolean } {
    const r = this.resolve(guestPath);
    if (r.rec === undefined) {
      // A directory of the guest's own file system (its tmpfs), such as a caller's base dir under a union.
      if (this.root.get(r.rel)?.kind !== 'dir') throw guestError('ENOTFOUND', `${guestPath}: no such directory`, { guestPath });
      return { loc: { tree: this.root, prefix: r.rel }, mountPath: '/', readOnly: false };
    }
    if (r.rec.kind !== 'disk' || r.mountPath === undefined) throw guestError('EGUEST', `${guestPath} is not on a mounted disk`, { guestPath });
    if (r.rec.tree.get(r.rel)?.kind !== 'dir') throw guestError('ENOTFOUND', `${guestPath}: no such directory`, { guestPath });
    return { loc: { tree: r.rec.tree, prefix: r.rel }, mountPath: r.mountPath, readOnly: r.rec.readOnly };
  }

  /** Why a mount point can not be unmounted now, if it can not. */
  busyReason(guestPath: string): string | undefined {
    const mr = relPath(guestPath);
    for (const [p, rec] of this.mounts) {
      if (p !== guestPath && relPath(p).startsWith(`${mr}/`)) return `${p} is mounted below it`;
      if (rec.kind === 'overlay' && rec.sources.includes(guestPath)) return `the overlay at ${p} uses it`;
    }
    return undefined;
  }
}

/** Union lookup of `rel` across layers, top-most first. */
export function lookup(layers: TreeLoc[], rel: string): FakeNode | undefined {
  for (const layer of layers) {
    let cutOff = false;
    for (const a of ancestors(rel)) {
      const n = layer.tree.get(join(layer.prefix, a));
      if (n === undefined) continue;
      if (n.kind !== 'dir') return undefined; // a whiteout or non-directory hides the whole subtree below
      if (n.opaque) cutOff = true;
    }
    const n = layer.tree.get(join(layer.prefix, rel));
    if (n !== undefined) return n.kind === 'whiteout' ? undefined : n;
    if (cutOff) return undefined;
  }
  return undefined;
}
