/**
 * The metadata of one node as it goes to disk at finish(): its directory
 * blocks, extent-tree blocks and xattr block (in that order, contiguous
 * from the node's first metadata block), and its inode fields.
 *
 * One number is kept between the planning pass, the block-writing pass and
 * the inode-table pass: a directory's block count (`DirNode.blocks`, set when
 * planning, so its names are measured once). The rest each pass recomputes
 * from the node and its first metadata block. That costs a second
 * extent-tree build for the rare node with more than four extents, and keeps
 * the writer's memory at the namespace itself — no per-inode layout objects
 * for the whole image.
 */
import { textByteLength } from '../../byte-names.js';
import type { BatchWriter } from './batch-writer.js';
import { BLOCK_SIZE, MAX_EXTENT_LEN, MAX_LINKS, ceilDiv } from '../format/constants.js';
import { DirectoryEncoder, DirectorySizer } from '../format/directory.js';
import {
  ROOT_CAPACITY,
  buildExtentTree,
  extentRootScratch,
  extentTreeBlockCount,
  splitLongExtents,
  writeContiguousRoot,
  type Extent,
  type ExtentTree,
} from '../format/extents.js';
import { INODE_FLAGS, MODE_TYPE, encodeDevice, type InodeFields } from '../format/inode.js';
import type { DirNode, Node } from './namespace.js';
import { layoutXattrs, type XattrLayout } from '../format/xattrs.js';

/**
 * How many metadata blocks `n` needs: directory blocks + extent-tree blocks +
 * xattr block. The planning pass: it also counts a directory's blocks into
 * `DirNode.blocks`, which the writing passes read (names are measured once).
 */
export function metadataBlockCount(n: Node): number {
  let dirBlocks = 0;
  if (n.type === 'dir') dirBlocks = n.blocks = directoryBlocks(n);
  return dirBlocks + extentTreeBlockCount(extentCount(n, dirBlocks)) + (xattrLayout(n).block ? 1 : 0);
}

/**
 * Where a writer's directory blocks are encoded, one directory after another:
 * the batch writer copies what it is given, so one buffer serves them all
 * (a fresh zeroed one per directory cost a page fault or more each on this
 * project's VMs, ~12 µs a page: issue 11, round 8). One per writer, never
 * shared: append() may wait for a write half-way through a directory.
 */
export class DirectoryScratch {
  private buf = Buffer.alloc(0);

  /** `bytes` zeroed bytes, valid until the next call. */
  take(bytes: number): Buffer {
    if (this.buf.length < bytes) this.buf = Buffer.alloc(Math.max(bytes, 16 * BLOCK_SIZE));
    else Uint8Array.prototype.fill.call(this.buf, 0, 0, bytes);
    return this.buf.subarray(0, bytes);
  }
}

/**
 * Whether `n` has metadata blocks at all. Most nodes (a small file, a
 * symlink, a device) have none: the writer asks this first and calls
 * writeNodeMetadata only for the others (an async call per inode was ~300
 * bytes of garbage each: a promise and its frame).
 */
export function hasMetadataBlocks(n: Node): boolean {
  return n.type === 'dir' || (n.xattrs !== undefined && n.xattrs.size > 0) || extentCount(n, 0) > ROOT_CAPACITY;
}

/** Append `n`'s metadata blocks to `out`, which must be at block `first`; for a node without any (hasMetadataBlocks), nothing. */
export async function writeNodeMetadata(n: Node, first: number, out: BatchWriter, scratch: DirectoryScratch): Promise<void> {
  if (n.type === 'dir') {
    await out.append(encodeDirectoryBlocks(n, scratch.take(n.blocks * BLOCK_SIZE)));
    // Nearly every directory: its blocks and nothing else (no tree, no xattr block), so no shape().
    if (isPlainDir(n)) return;
  }
  const { tree, xattrs } = shape(n, first);
  if (tree) for (let i = 0; i < tree.blocks.length; i++) await out.append(tree.blocks[i]!.data);
  if (xattrs.block) await out.append(xattrs.block);
}

/**
 * i_block of the inode being encoded: an extent root or a short symlink's
 * target. Only one inode's fields are alive at a time (inodeFieldsOf's
 * result is encoded before the next call), so one buffer serves all; every
 * shape() builds its root here (writeNodeMetadata needs only the tree blocks).
 */
const iBlockScratch = extentRootScratch();
/** i_block of an inode with nothing there (fifos, sockets). Never written to. */
const NO_IBLOCK = Buffer.alloc(60);

/** The inode fields inodeFieldsOf fills in place and returns (see there). */
const fields: InodeFields = {
  mode: 0,
  uid: 0,
  gid: 0,
  size: 0,
  linksCount: 0,
  blocks: 0,
  flags: INODE_FLAGS.extents,
  iBlock: iBlockScratch.bytes,
  fileAcl: 0,
  atime: { sec: 0, nsec: 0 },
  mtime: { sec: 0, nsec: 0 },
  ctime: { sec: 0, nsec: 0 },
  crtime: { sec: 0, nsec: 0 },
  xattrArea: undefined,
};

/**
 * The inode of `n`, whose metadata blocks start at `first`: one object
 * (and one `iBlock`) filled in place for every inode, so the result is valid
 * until the next call — encode the fields before asking for another inode's.
 */
export function inodeFieldsOf(n: Node, first: number): InodeFields {
  // The common inode first: a file without xattrs whose data is one contiguous run.
  if (n.type === 'file' && n.runs === undefined && !(n.xattrs && n.xattrs.size > 0) && writeContiguousRoot(iBlockScratch, n.start, n.dataBlocks)) {
    return fill(n, n.size, n.links, n.dataBlocks, INODE_FLAGS.extents, iBlockScratch.bytes, 0, undefined);
  }
  // Then a directory without xattrs: its blocks from `first`, one run, as for a file.
  if (n.type === 'dir' && isPlainDir(n) && writeContiguousRoot(iBlockScratch, first, n.blocks)) {
    return fill(n, n.blocks * BLOCK_SIZE, dirLinks(n), n.blocks, INODE_FLAGS.extents, iBlockScratch.bytes, 0, undefined);
  }
  const { dirBlocks, tree, treeBlocks, xattrs, xattrBlock } = shape(n, first);
  let size = 0;
  let blocks = treeBlocks + (xattrBlock ? 1 : 0);
  let iBlock: Buffer | undefined;
  let links = n.links;
  switch (n.type) {
    case 'file':
      size = n.size;
      blocks += n.dataBlocks;
      break;
    case 'dir':
      size = dirBlocks * BLOCK_SIZE;
      blocks += dirBlocks;
      links = dirLinks(n);
      break;
    case 'symlink':
      size = n.target.length;
      if (n.block === undefined) {
        iBlock = iBlockScratch.bytes;
        Uint8Array.prototype.fill.call(iBlock, 0);
        iBlock.set(n.target);
      } else blocks += 1;
      break;
    case 'char':
    case 'block':
      iBlock = encodeDevice(n.major, n.minor);
      break;
    default:
      break;
  }
  return fill(n, size, links, blocks, tree ? INODE_FLAGS.extents : 0, tree?.root ?? iBlock ?? NO_IBLOCK, xattrBlock, xattrs.inline);
}

/** A directory whose only metadata blocks are its own (no extent-tree blocks, no xattr block). */
function isPlainDir(d: DirNode): boolean {
  return !(d.xattrs && d.xattrs.size > 0) && d.blocks <= ROOT_CAPACITY * MAX_EXTENT_LEN;
}

/** i_links_count of a directory: dir_nlink, so past the limit it is 1 ("many"). */
function dirLinks(d: DirNode): number {
  return 2 + d.subdirs > MAX_LINKS ? 1 : 2 + d.subdirs;
}

/** `fields` for `n`; `blocks` in file-system blocks. */
function fill(
  n: Node,
  size: number,
  links: number,
  blocks: number,
  flags: number,
  iBlock: Buffer,
  fileAcl: number,
  xattrArea: Buffer | undefined,
): InodeFields {
  const f = fields;
  f.mode = MODE_TYPE[n.type] | n.meta.mode;
  f.uid = n.meta.uid;
  f.gid = n.meta.gid;
  f.size = size;
  f.linksCount = links;
  f.blocks = blocks * (BLOCK_SIZE / 512);
  f.flags = flags;
  f.iBlock = iBlock;
  f.fileAcl = fileAcl;
  f.atime = n.meta.atime;
  f.mtime = n.meta.mtime;
  f.ctime = n.meta.ctime;
  f.crtime = n.meta.crtime;
  f.xattrArea = xattrArea;
  return f;
}

/** Where a node's data lives, as extents: directories and long symlinks in metadata/data blocks, files from their runs. */
function extentsOf(n: Node, dirStart: number, dirBlocks: number): Extent[] {
  switch (n.type) {
    case 'dir':
      return splitLongExtents([{ logical: 0, physical: dirStart, length: dirBlocks }]);
    case 'file':
      return n.runs ?? (n.dataBlocks > 0 ? splitLongExtents([{ logical: 0, physical: n.start, length: n.dataBlocks }]) : []);
    case 'symlink':
      return n.block === undefined ? [] : [{ logical: 0, physical: n.block, length: 1 }];
    default:
      return [];
  }
}

/** extentsOf(n, …, dirBlocks).length without building the list: counted for every node when planning and writing. */
function extentCount(n: Node, dirBlocks: number): number {
  switch (n.type) {
    case 'dir':
      return ceilDiv(dirBlocks, MAX_EXTENT_LEN);
    case 'file':
      return n.runs ? n.runs.length : ceilDiv(n.dataBlocks, MAX_EXTENT_LEN);
    case 'symlink':
      return n.block === undefined ? 0 : 1;
    default:
      return 0;
  }
}

function usesExtents(n: Node): boolean {
  return n.type === 'dir' || n.type === 'file' || (n.type === 'symlink' && n.block !== undefined);
}

interface Shape {
  dirBlocks: number;
  tree?: ExtentTree;
  treeBlocks: number;
  xattrs: XattrLayout;
  /** Block of the external xattr block, 0 when everything fits in the inode. */
  xattrBlock: number;
}

function shape(n: Node, first: number): Shape {
  const dirBlocks = n.type === 'dir' ? n.blocks : 0;
  let next = first + dirBlocks;
  const tree = usesExtents(n) ? buildExtentTree(extentsOf(n, first, dirBlocks), () => next++, iBlockScratch) : undefined;
  const treeBlocks = tree?.blocks.length ?? 0;
  const xattrs = xattrLayout(n);
  return { dirBlocks, tree, treeBlocks, xattrs, xattrBlock: xattrs.block ? next : 0 };
}

const NO_XATTRS: XattrLayout = {};

function xattrLayout(n: Node): XattrLayout {
  return n.xattrs && n.xattrs.size > 0 ? layoutXattrs(n.xattrs, { ino: n.ino }) : NO_XATTRS;
}

/** Blocks for `d`'s entries ('.' and '..' included), counted without a list of name lengths. */
function directoryBlocks(d: DirNode): number {
  const sizer = new DirectorySizer();
  sizer.add(1); // '.'
  sizer.add(2); // '..'
  // forEach, not for-of: no iterator result (nor [key, value] pair) per child without TurboFan (cli/lean-heap.ts).
  d.children.forEach((_, name) => sizer.add(textByteLength(name)));
  return sizer.blocks;
}

/** `d`'s entries into `out` (zeroed, the blocks planned for it); an entry that does not fit is a layout bug (EIO). */
function encodeDirectoryBlocks(d: DirNode, out: Buffer): Buffer {
  const enc = new DirectoryEncoder(out);
  enc.add(d.ino, 'dir', '.', 1);
  enc.add(d.parent.ino, 'dir', '..', 2);
  // Names are exact text (stray bytes as U+DC80..U+DCFF, ../../byte-names.ts): written back as their bytes.
  d.children.forEach((child, name) => enc.add(child.ino, child.type, name, textByteLength(name)));
  enc.finish();
  return out;
}
