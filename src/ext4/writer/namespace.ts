/**
 * The in-memory file tree the writer builds while entries arrive: inodes as
 * objects, directories as ordered name → node maps. It applies the layer
 * semantics (implicit parents, later-entry-wins, no dir ↔ non-dir swaps,
 * hard links by path) so that the writer only has to lay out bytes. Inode
 * numbers are handed out at the end, so replaced nodes simply vanish.
 */
import { textByteLength } from '../../byte-names.js';
import { LcowError } from '../../errors.js';
import type { EntryMeta, Timestamp } from './entry.js';
import type { Extent } from '../format/extents.js';
import { LOST_FOUND_INO, MAX_LINKS, MAX_NAME_LEN, ROOT_INO } from '../format/constants.js';

/** An entry's metadata minus xattrs (kept on the node, merged for directories); `mode` is permission bits only. */
export type NodeMeta = Required<Omit<EntryMeta, 'xattrs'>>;

interface NodeBase {
  /** Creation order: decides inode numbers, so output is deterministic. */
  seq: number;
  /** Inode number, handed out by numberInodes() at the end (0 until then). */
  ino: number;
  meta: NodeMeta;
  /** Absent when the node has none: most have none, and an empty Map costs ~180 bytes per node. */
  xattrs?: Map<string, Buffer>;
  /** Names bound to this node (hard links); directories use `subdirs` instead. */
  links: number;
}

export interface FileNode extends NodeBase {
  type: 'file';
  size: number;
  /** First disk block of the file's data (its blocks are contiguous on disk). */
  start: number;
  /** Data blocks in use (holes excluded). */
  dataBlocks: number;
  /**
   * Logical → physical runs, only for sparse files; an ordinary file is the
   * single run [start, start + dataBlocks) (node-metadata.ts turns it into extents). Kept this way
   * because one small array and object per file is most of a file's cost.
   */
  runs?: Extent[];
}
export interface DirNode extends NodeBase {
  type: 'dir';
  children: Map<string, Node>;
  parent: DirNode;
  subdirs: number;
  /** Created by mkdir -p for a child; its real entry has not arrived. */
  implicit: boolean;
  /** Its directory blocks: counted once when finish() plans the metadata (node-metadata.ts), 0 until then. */
  blocks: number;
}
export interface SymlinkNode extends NodeBase {
  type: 'symlink';
  target: Buffer;
  /** Disk block holding a target too long for i_block. */
  block?: number;
}
export interface DeviceNode extends NodeBase {
  type: 'char' | 'block';
  major: number;
  minor: number;
}
export interface SpecialNode extends NodeBase {
  type: 'fifo' | 'socket';
}
export type Node = FileNode | DirNode | SymlinkNode | DeviceNode | SpecialNode;
export type NonDirNode = Exclude<Node, DirNode>;

const EPOCH: Timestamp = { sec: 0, nsec: 0 };

export function defaultMeta(perm: number): NodeMeta {
  return { mode: perm, uid: 0, gid: 0, atime: EPOCH, mtime: EPOCH, ctime: EPOCH, crtime: EPOCH };
}

export function metaFromEntry(m: EntryMeta): NodeMeta {
  return { mode: m.mode & 0o7777, uid: m.uid >>> 0, gid: m.gid >>> 0, atime: m.atime, mtime: m.mtime, ctime: m.ctime, crtime: m.crtime ?? m.mtime };
}

/**
 * metaFromEntry, handing back the last result while entries carry the same
 * metadata (most of a layer: a package's files share owner, mode and time).
 * A NodeMeta is never changed in place (a directory's is replaced whole), so
 * nodes may share one: the tree then keeps one per run of equal metadata, not
 * one per node. Per-node metadata was the largest part of what a conversion
 * keeps alive, which is what V8's young-generation collections copy (issue 11:
 * on a node_modules layer, 0.8 MB of the 2.7 MB promoted, and the one full
 * collection of the run).
 */
export class MetaInterner {
  private last: NodeMeta | undefined;

  of(m: EntryMeta): NodeMeta {
    const l = this.last;
    if (
      l !== undefined &&
      l.mode === (m.mode & 0o7777) &&
      l.uid === m.uid >>> 0 &&
      l.gid === m.gid >>> 0 &&
      sameTime(l.mtime, m.mtime) &&
      sameTime(l.atime, m.atime) &&
      sameTime(l.ctime, m.ctime) &&
      sameTime(l.crtime, m.crtime ?? m.mtime)
    ) {
      return l;
    }
    return (this.last = metaFromEntry(m));
  }
}

/** The same instant; the same object first (the tar reader shares a time between members that have it). */
function sameTime(a: Timestamp, b: Timestamp): boolean {
  return a === b || (a.sec === b.sec && a.nsec === b.nsec);
}

export class Namespace {
  private seq = 0;
  /** resolveParent's last parent directory and its path. */
  private lastParentPath = '';
  private lastParent: DirNode | undefined;
  readonly root: DirNode;
  readonly lostFound: DirNode;

  constructor() {
    this.root = this.newDir(undefined, defaultMeta(0o755), false);
    this.lostFound = this.newDir(this.root, defaultMeta(0o700), false);
    this.root.children.set('lost+found', this.lostFound);
    this.root.subdirs++;
  }

  nextSeq(): number {
    return this.seq++;
  }

  private newDir(parent: DirNode | undefined, meta: NodeMeta, implicit: boolean): DirNode {
    const d: DirNode = {
      type: 'dir',
      seq: this.nextSeq(),
      ino: 0,
      meta,
      links: 1,
      children: new Map(),
      parent: parent as DirNode,
      subdirs: 0,
      implicit,
      blocks: 0,
    };
    if (!parent) d.parent = d;
    return d;
  }

  /**
   * Split a clean relative path into its parent directory (created as needed) and last name.
   * A tar lists a directory's members together, so the last parent is kept:
   * the next entry usually has the same one and skips the walk from the
   * root. Safe because a directory, once bound at a path, stays there (no
   * entry may replace a directory with a non-directory, and nothing is removed).
   */
  private resolveParent(path: string, tarName: string): { dir: DirNode; name: string } {
    const slash = path.lastIndexOf('/');
    const name = slash < 0 ? path : path.slice(slash + 1);
    checkName(name, tarName);
    if (slash < 0) return { dir: this.root, name };
    const parentPath = path.slice(0, slash);
    if (parentPath === this.lastParentPath && this.lastParent !== undefined) return { dir: this.lastParent, name };
    let dir = this.root;
    const parts = parentPath.split('/');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const next = dir.children.get(part);
      if (next === undefined) {
        // Names already in the tree were checked when they were bound: only a new one is.
        checkName(part, tarName);
        const created = this.newDir(dir, defaultMeta(0o755), true);
        dir.children.set(part, created);
        dir.subdirs++;
        dir = created;
      } else if (next.type !== 'dir') {
        throw new LcowError('EBADTAR', `a parent of ${tarName} is not a directory`, { entry: tarName, parent: part });
      } else {
        dir = next;
      }
    }
    this.lastParentPath = parentPath;
    this.lastParent = dir;
    return { dir, name };
  }

  /** Look a path up without creating anything. */
  lookup(path: string): Node | undefined {
    if (path === '') return this.root;
    let node: Node = this.root;
    const parts = path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (node.type !== 'dir') return undefined;
      const next: Node | undefined = node.children.get(part);
      if (next === undefined) return undefined;
      node = next;
    }
    return node;
  }

  /** Create or update a directory; a later entry's metadata wins, xattrs are merged. */
  putDir(path: string, tarName: string, meta: NodeMeta, xattrs: Map<string, Buffer>): DirNode {
    const dir = this.dirAt(path, tarName, meta);
    dir.meta = meta;
    dir.implicit = false;
    xattrs.forEach((v, k) => setXattr(dir, k, v));
    return dir;
  }

  /** The directory at `path`, created implicitly (with `meta`) if absent. */
  dirAt(path: string, tarName: string, meta: NodeMeta = defaultMeta(0o755)): DirNode {
    if (path === '') return this.root;
    const { dir, name } = this.resolveParent(path, tarName);
    const existing = dir.children.get(name);
    if (existing !== undefined) {
      if (existing.type !== 'dir') throw new LcowError('EBADTAR', `${tarName}: a directory cannot replace a non-directory`, { entry: tarName });
      return existing;
    }
    const created = this.newDir(dir, meta, true);
    dir.children.set(name, created);
    dir.subdirs++;
    return created;
  }

  /**
   * Check that a non-directory may be placed at `path` (before its data is
   * written); returns where it will go. Creates implicit parents.
   */
  prepareNonDir(path: string, tarName: string): { dir: DirNode; name: string } {
    if (path === '') throw new LcowError('EBADTAR', `${tarName}: the root must be a directory`, { entry: tarName });
    const slot = this.resolveParent(path, tarName);
    const existing = slot.dir.children.get(slot.name);
    if (existing?.type === 'dir') throw new LcowError('EBADTAR', `${tarName}: a non-directory cannot replace a directory`, { entry: tarName });
    return slot;
  }

  /** Bind `node` at a slot from prepareNonDir, unlinking whatever was there. */
  bind(slot: { dir: DirNode; name: string }, node: NonDirNode, tarName: string): void {
    const existing = slot.dir.children.get(slot.name);
    if (existing === node) return;
    if (node.links >= MAX_LINKS) throw new LcowError('ETOOBIG', `${tarName}: more than ${MAX_LINKS} links to one file`, { entry: tarName });
    if (existing !== undefined) existing.links--;
    slot.dir.children.set(slot.name, node);
    node.links++;
  }

  /** The existing non-directory a hard link points at. */
  hardlinkTarget(target: string, tarName: string): NonDirNode {
    const node = this.lookup(target);
    if (node === undefined) throw new LcowError('EBADTAR', `${tarName}: hard link target ${target} does not exist`, { entry: tarName, target });
    if (node.type === 'dir') throw new LcowError('EBADTAR', `${tarName}: hard link target ${target} is a directory`, { entry: tarName, target });
    return node;
  }

  /**
   * Number every node reachable from the root (replaced ones are not):
   * root 2, lost+found 11, the rest from 12 in creation order, so the same
   * tar always gives the same numbers. Returns the nodes in inode order.
   * Call once, when no more entries will come.
   */
  numberInodes(): Node[] {
    // Creation order without a sort: every seq is unique and below this.seq,
    // so each live node has a slot of its own (a comparator sort ran ~78,000
    // interpreted calls on a 6,000-entry layer).
    const bySeq = new Array<Node | undefined>(this.seq).fill(undefined);
    bySeq[this.root.seq] = this.root;
    let live = 1;
    const stack: DirNode[] = [this.root];
    while (stack.length > 0) {
      const d = stack.pop() as DirNode;
      // forEach, not for-of: no iterator result per child without TurboFan (cli/lean-heap.ts).
      d.children.forEach((child) => {
        if (bySeq[child.seq] !== undefined) return; // a hard link reaches its node more than once
        bySeq[child.seq] = child;
        live++;
        if (child.type === 'dir') stack.push(child);
      });
    }
    if (bySeq[this.lostFound.seq] === undefined) live++; // numbered 11 whatever the layer did to its name
    const ordered = new Array<Node>(live); // sized once: no regrowth copies
    ordered[0] = this.root;
    ordered[1] = this.lostFound;
    this.root.ino = ROOT_INO;
    this.lostFound.ino = LOST_FOUND_INO;
    let at = 2;
    for (let s = 0; s < bySeq.length; s++) {
      const n = bySeq[s];
      if (n === undefined || n === this.root || n === this.lostFound) continue;
      n.ino = LOST_FOUND_INO + at - 1;
      ordered[at++] = n;
    }
    return ordered;
  }
}

/** Set one extended attribute, creating the node's map on first use. */
export function setXattr(node: Node, name: string, value: Buffer): void {
  (node.xattrs ??= new Map()).set(name, value);
}

/** A copy of an entry's xattrs for a node, or undefined when there are none. */
export function ownXattrs(xattrs: Map<string, Buffer>): Map<string, Buffer> | undefined {
  return xattrs.size > 0 ? new Map(xattrs) : undefined;
}

function checkName(name: string, tarName: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('\0')) {
    throw new LcowError('EBADTAR', `${tarName}: bad path component ${JSON.stringify(name)}`, { entry: tarName });
  }
  if (textByteLength(name) > MAX_NAME_LEN) {
    throw new LcowError('EBADTAR', `${tarName}: name longer than ${MAX_NAME_LEN} bytes`, { entry: tarName });
  }
}
