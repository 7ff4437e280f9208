/**
 * Extent trees (`ext4_extent_header`, `ext4_extent_idx`, `ext4_extent`). The
 * root lives in the inode's 60-byte i_block (header + 4 entries); when a
 * file has more extents, the root holds index entries that point at tree
 * blocks (the writer's: 4 KiB, header + 340 entries), as deep as needed.
 *
 *   header (12 bytes): magic 0xF30A u16, entries u16, max u16, depth u16 (0 = leaf), generation u32
 *   index  (12 bytes): logical block u32, child block lo u32, child block hi u16, unused u16
 *   leaf   (12 bytes): logical block u32, length u16 (> 32768: uninitialised,
 *                      length − 32768), start hi u16, start lo u32
 *
 * A node block may end with a 4-byte checksum tail (metadata_csum); `max`
 * already excludes it.
 */
import { BLOCK_SIZE, MAX_EXTENT_LEN, ceilDiv } from './constants.js';

export const EXTENT_MAGIC = 0xf30a;
const HEADER_SIZE = 12;
const ENTRY_SIZE = 12;
export const ROOT_CAPACITY = (60 - HEADER_SIZE) / ENTRY_SIZE; // 4
export const NODE_CAPACITY = Math.floor((BLOCK_SIZE - HEADER_SIZE) / ENTRY_SIZE); // 340

/** A run of `length` blocks: file block `logical` onwards maps to disk block `physical` onwards. */
export interface Extent {
  logical: number;
  physical: number;
  length: number;
}

/** Cut extents longer than the format's 32768-block limit. */
export function splitLongExtents(extents: Extent[]): Extent[] {
  const out: Extent[] = [];
  // Indexed loops, here and in the other per-inode paths: the converter runs without TurboFan
  // (cli/lean-heap.ts), where every for-of step allocates an iterator result.
  for (let i = 0; i < extents.length; i++) {
    const e = extents[i]!;
    for (let done = 0; done < e.length; done += MAX_EXTENT_LEN) {
      out.push({ logical: e.logical + done, physical: e.physical + done, length: Math.min(MAX_EXTENT_LEN, e.length - done) });
    }
  }
  return out;
}

/** How many 4 KiB tree blocks an extent list of `count` entries needs. */
export function extentTreeBlockCount(count: number): number {
  if (count <= ROOT_CAPACITY) return 0;
  let total = 0;
  let level = count;
  while (level > ROOT_CAPACITY) {
    level = ceilDiv(level, NODE_CAPACITY);
    total += level;
  }
  return total;
}

// Through a DataView: Buffer's write methods range-check in JavaScript on every call (see inode.ts).
function writeHeader(v: DataView, entries: number, max: number, depth: number): void {
  v.setUint16(0, EXTENT_MAGIC, true);
  v.setUint16(2, entries, true);
  v.setUint16(4, max, true);
  v.setUint16(6, depth, true);
}

function writeLeafEntry(v: DataView, off: number, e: Extent): void {
  writeLeaf(v, off, e.logical, e.physical, e.length);
}

function writeLeaf(v: DataView, off: number, logical: number, physical: number, length: number): void {
  v.setUint32(off, logical, true);
  v.setUint16(off + 4, length, true);
  const high = physical <= 0xffffffff ? 0 : Math.floor(physical / 2 ** 32);
  v.setUint16(off + 6, high, true);
  v.setUint32(off + 8, high === 0 ? physical : physical % 2 ** 32, true);
}

function writeIndexEntry(v: DataView, off: number, logical: number, child: number): void {
  v.setUint32(off, logical, true);
  v.setUint32(off + 4, child % 2 ** 32, true);
  v.setUint16(off + 8, Math.floor(child / 2 ** 32), true);
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.length);
}

/**
 * A reused i_block and its view, for a caller that encodes the inode before
 * it builds the next tree (the writer's inode tables): a fresh 60-byte
 * buffer and DataView per inode were a tenth of the inode-table pass.
 */
export interface ExtentRootScratch {
  readonly bytes: Buffer;
  readonly view: DataView;
}

export function extentRootScratch(): ExtentRootScratch {
  const bytes = Buffer.alloc(60);
  return { bytes, view: viewOf(bytes) };
}

/**
 * The root of `length` contiguous blocks from `physical` (logical 0), written
 * into `scratch`: the bytes buildExtentTree(splitLongExtents([{ logical: 0,
 * physical, length }]), …, scratch) writes, without its arrays and objects —
 * the inode of almost every file (issue 11, round 8: those objects were most
 * of the inode-table pass's garbage). False, with nothing written, when the
 * run needs more extents than the root holds.
 */
export function writeContiguousRoot(scratch: ExtentRootScratch, physical: number, length: number): boolean {
  const count = ceilDiv(length, MAX_EXTENT_LEN);
  if (count > ROOT_CAPACITY) return false;
  Uint8Array.prototype.fill.call(scratch.bytes, 0);
  writeHeader(scratch.view, count, ROOT_CAPACITY, 0);
  for (let i = 0; i < count; i++) {
    const done = i * MAX_EXTENT_LEN;
    writeLeaf(scratch.view, HEADER_SIZE + i * ENTRY_SIZE, done, physical + done, Math.min(MAX_EXTENT_LEN, length - done));
  }
  return true;
}

export interface ExtentTree {
  /** The 60 bytes for i_block. */
  root: Buffer;
  /** Tree blocks to write, at the block numbers handed out by `allocate`. */
  blocks: Array<{ block: number; data: Buffer }>;
}

/**
 * Build the tree for `extents` (ascending logical order, each ≤ 32768 blocks).
 * `allocate` returns consecutive disk block numbers for tree blocks; exactly
 * extentTreeBlockCount(extents.length) are requested. With `scratch`, the
 * root is written there (zeroed first) and is valid until its next use.
 */
export function buildExtentTree(extents: Extent[], allocate: () => number, scratch?: ExtentRootScratch): ExtentTree {
  let root: Buffer;
  let rootView: DataView;
  if (scratch) {
    root = scratch.bytes;
    rootView = scratch.view;
    Uint8Array.prototype.fill.call(root, 0);
  } else {
    root = Buffer.alloc(60);
    rootView = viewOf(root);
  }
  const blocks: ExtentTree['blocks'] = [];
  if (extents.length <= ROOT_CAPACITY) {
    writeHeader(rootView, extents.length, ROOT_CAPACITY, 0);
    for (let i = 0; i < extents.length; i++) writeLeafEntry(rootView, HEADER_SIZE + i * ENTRY_SIZE, extents[i]!);
    return { root, blocks };
  }
  // Bottom-up: leaves, then index levels until the top fits in the inode.
  let level: Array<{ logical: number; block: number }> = [];
  for (let i = 0; i < extents.length; i += NODE_CAPACITY) {
    const chunk = extents.slice(i, i + NODE_CAPACITY);
    const data = Buffer.alloc(BLOCK_SIZE);
    const v = viewOf(data);
    writeHeader(v, chunk.length, NODE_CAPACITY, 0);
    chunk.forEach((e, j) => writeLeafEntry(v, HEADER_SIZE + j * ENTRY_SIZE, e));
    const block = allocate();
    blocks.push({ block, data });
    level.push({ logical: chunk[0]!.logical, block });
  }
  let depth = 1;
  while (level.length > ROOT_CAPACITY) {
    const next: typeof level = [];
    for (let i = 0; i < level.length; i += NODE_CAPACITY) {
      const chunk = level.slice(i, i + NODE_CAPACITY);
      const data = Buffer.alloc(BLOCK_SIZE);
      const v = viewOf(data);
      writeHeader(v, chunk.length, NODE_CAPACITY, depth);
      chunk.forEach((n, j) => writeIndexEntry(v, HEADER_SIZE + j * ENTRY_SIZE, n.logical, n.block));
      const block = allocate();
      blocks.push({ block, data });
      next.push({ logical: chunk[0]!.logical, block });
    }
    level = next;
    depth++;
  }
  writeHeader(rootView, level.length, ROOT_CAPACITY, depth);
  level.forEach((n, j) => writeIndexEntry(rootView, HEADER_SIZE + j * ENTRY_SIZE, n.logical, n.block));
  return { root, blocks };
}

export interface ExtentHeader {
  entries: number;
  max: number;
  depth: number;
}

/** The header of a node (i_block or a tree block), or undefined when it is not one: bad magic, or entries that do not fit. */
export function decodeExtentHeader(node: Buffer): ExtentHeader | undefined {
  if (node.length < HEADER_SIZE || node.readUInt16LE(0) !== EXTENT_MAGIC) return undefined;
  const h = { entries: node.readUInt16LE(2), max: node.readUInt16LE(4), depth: node.readUInt16LE(6) };
  if (h.entries > h.max || HEADER_SIZE + h.max * ENTRY_SIZE > node.length) return undefined;
  return h;
}

/** A leaf entry: an extent, possibly uninitialised (allocated, never written: reads as zeros). */
export interface LeafExtent extends Extent {
  uninit: boolean;
}

export type ExtentNode = ExtentHeader & { leaves: LeafExtent[]; children: Array<{ logical: number; block: number }> };

/** One node with its leaf (depth 0) or index entries; undefined when the header is not valid. */
export function decodeExtentNode(node: Buffer): ExtentNode | undefined {
  const h = decodeExtentHeader(node);
  if (!h) return undefined;
  const leaves: LeafExtent[] = [];
  const children: Array<{ logical: number; block: number }> = [];
  for (let i = 0; i < h.entries; i++) {
    const o = HEADER_SIZE + i * ENTRY_SIZE;
    if (h.depth === 0) {
      const raw = node.readUInt16LE(o + 4);
      const uninit = raw > MAX_EXTENT_LEN;
      leaves.push({
        logical: node.readUInt32LE(o),
        length: uninit ? raw - MAX_EXTENT_LEN : raw,
        physical: node.readUInt16LE(o + 6) * 2 ** 32 + node.readUInt32LE(o + 8),
        uninit,
      });
    } else {
      children.push({ logical: node.readUInt32LE(o), block: node.readUInt16LE(o + 8) * 2 ** 32 + node.readUInt32LE(o + 4) });
    }
  }
  return { ...h, leaves, children };
}
