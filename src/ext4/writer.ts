/**
 * Ext4Writer: streams normalised layer entries into a compact, read-only
 * ext4 image. File data is written as it arrives, block-aligned, in large
 * batches; everything else (directories, extent trees, xattr blocks, inode
 * tables, bitmaps, descriptors, superblock) is laid out at finish():
 *
 *   [block 0: superblock][descriptor blocks reserved for the max size]
 *   [file data, long symlinks ...][dirs | extent trees | xattr blocks]
 *   [inode tables][block bitmaps][inode bitmaps]
 *
 * flex_bg lets the per-group metadata sit anywhere and sparse_super2 with
 * no backups keeps groups past 0 free of superblock copies, so the data
 * can stream through group boundaries untouched.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { LcowError } from '../errors.js';
import { componentLogger, type Logger } from '../log.js';
import type { FileEntry, LayerEntry, SymlinkEntry } from './entry.js';
import { BatchWriter, writeAll } from './batch-writer.js';
import { GroupBitmaps } from './bitmaps.js';
import {
  BLOCKS_PER_GROUP,
  BLOCK_SIZE,
  COMPAT,
  DEFAULT_MAX_DISK_SIZE,
  EXT4_EXTENTS_FL,
  FAST_SYMLINK_MAX,
  FT,
  INCOMPAT,
  INODE_SIZE,
  LOST_FOUND_INO,
  MAX_INODES_PER_GROUP,
  MAX_LINKS,
  MAX_SYMLINK_LEN,
  ROOT_INO,
  RO_COMPAT,
  SUPERBLOCK_OFFSET,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  S_IFSOCK,
  ceilDiv,
} from './constants.js';
import { directoryBlockCount, direntSize, encodeDirectory, type DirectoryEntry } from './directory.js';
import { buildExtentTree, extentTreeBlockCount, splitLongExtents, type Extent, type ExtentTree } from './extents.js';
import { computeGeometry, reservedGdtBlocks, type Geometry } from './geometry.js';
import { encodeGroupDescriptorTable, type GroupDescriptor } from './group-descriptor.js';
import { encodeDeviceIBlock, encodeInode, type InodeFields } from './inode.js';
import { Namespace, metaFromEntry, type DirNode, type FileNode, type Node } from './namespace.js';
import { PackedCursor, regionsToBlockRanges, type BlockRange } from './sparse-ranges.js';
import { encodeSuperblock, formatUuid, uuidFromHash } from './superblock.js';
import { layoutXattrs, type XattrLayout } from './xattrs.js';

export interface Ext4WriterOptions {
  /** Largest image allowed, in bytes (default 128 GiB); past it → LcowError('ETOOBIG', …, {entry}). */
  maxDiskSizeBytes?: number;
  logger?: Logger;
}

export interface Ext4WriteResult {
  /** Size of the ext4 image in bytes, a multiple of 4096. */
  sizeBytes: number;
  blockCount: number;
  inodeCount: number;
  uuid: string;
}

/** Largest image without the 64bit feature: 2^32 blocks. */
const MAX_FS_BYTES = (2 ** 32 - 1) * BLOCK_SIZE;
const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** Per-node layout decided at finish(). */
interface Placement {
  ino: number;
  node: Node;
  dirBlock?: number;
  dirBlocks?: number;
  tree?: ExtentTree;
  treeBlocks: number;
  xattrs: XattrLayout;
  xattrBlock: number;
}

export class Ext4Writer {
  private readonly ns = new Namespace();
  private readonly out: BatchWriter;
  private readonly log: Logger;
  private readonly maxBlocks: number;
  private readonly firstDataBlock: number;
  /** Serialises add()/finish() so callers that forget to await cannot interleave data. */
  private chain: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  private finished = false;
  private lastEntry: string | undefined;
  /** Running guess of metadata size, so ETOOBIG names the entry that crossed the limit. */
  private metaBytesEstimate = 64 * 1024;

  private constructor(
    private readonly fh: FileHandle,
    options: Ext4WriterOptions,
  ) {
    const max = options.maxDiskSizeBytes ?? DEFAULT_MAX_DISK_SIZE;
    if (!(max > 0)) throw new LcowError('EINVAL', 'maxDiskSizeBytes must be positive', { maxDiskSizeBytes: max });
    this.maxBlocks = Math.floor(Math.min(max, MAX_FS_BYTES) / BLOCK_SIZE);
    this.firstDataBlock = 1 + reservedGdtBlocks(this.maxBlocks);
    this.out = new BatchWriter(fh, this.firstDataBlock * BLOCK_SIZE);
    this.log = componentLogger(options.logger, 'ext4-writer');
  }

  /** Writes the image into an open file handle starting at byte 0. */
  static create(fh: FileHandle, options: Ext4WriterOptions = {}): Ext4Writer {
    return new Ext4Writer(fh, options);
  }

  /** Add one normalised entry. For 'file' entries, consumes entry.body fully before resolving. */
  add(entry: LayerEntry): Promise<void> {
    return this.serialised(() => this.addNow(entry));
  }

  /** Write all metadata; returns the sizes. The file's length is then exactly sizeBytes. */
  finish(): Promise<Ext4WriteResult> {
    return this.serialised(async () => {
      const result = await this.finishNow();
      this.finished = true;
      return result;
    });
  }

  private serialised<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      if (this.failure !== undefined) throw new LcowError('EINVAL', 'the writer failed earlier; start again', {}, { cause: this.failure });
      if (this.finished) throw new LcowError('EINVAL', 'the writer is already finished', {});
      return op().catch((err: unknown) => {
        this.failure = err;
        throw err;
      });
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async addNow(entry: LayerEntry): Promise<void> {
    this.lastEntry = entry.tarName;
    if (entry.kind === 'opaque') {
      this.ns.dirAt(entry.path, entry.tarName).xattrs.set(OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    this.metaBytesEstimate += INODE_SIZE + direntSize(Buffer.byteLength(entry.path)) + (entry.meta.xattrs.size > 0 ? BLOCK_SIZE : 0);
    const meta = metaFromEntry(entry.meta);
    const xattrs = new Map(entry.meta.xattrs);
    switch (entry.kind) {
      case 'dir': {
        const dir = this.ns.putDir(entry.path, entry.tarName, meta, xattrs);
        if (entry.opaque) dir.xattrs.set(OPAQUE_XATTR, Buffer.from('y'));
        this.checkRoom(0, entry.tarName);
        return;
      }
      case 'file':
        return this.addFile(entry);
      case 'symlink':
        return this.addSymlink(entry);
      case 'hardlink': {
        const target = this.ns.hardlinkTarget(entry.target, entry.tarName);
        this.ns.bind(this.ns.prepareNonDir(entry.path, entry.tarName), target, entry.tarName);
        return;
      }
      case 'char':
      case 'block': {
        if (!(entry.major >= 0 && entry.major <= 0xfff && entry.minor >= 0 && entry.minor <= 0xfffff)) {
          throw new LcowError('EUNSUPPORTED', `${entry.tarName}: device number ${entry.major}:${entry.minor} does not fit ext4`, { entry: entry.tarName });
        }
        const slot = this.ns.prepareNonDir(entry.path, entry.tarName);
        this.ns.bind(slot, { type: entry.kind, seq: this.ns.nextSeq(), meta, xattrs, links: 0, major: entry.major, minor: entry.minor }, entry.tarName);
        return;
      }
      case 'fifo':
      case 'socket': {
        const slot = this.ns.prepareNonDir(entry.path, entry.tarName);
        this.ns.bind(slot, { type: entry.kind, seq: this.ns.nextSeq(), meta, xattrs, links: 0 }, entry.tarName);
        return;
      }
      case 'whiteout': {
        // overlayfs whiteout: a character device 0:0 with no permission bits.
        const slot = this.ns.prepareNonDir(entry.path, entry.tarName);
        this.ns.bind(slot, { type: 'char', seq: this.ns.nextSeq(), meta: { ...meta, mode: 0 }, xattrs, links: 0, major: 0, minor: 0 }, entry.tarName);
        return;
      }
      default: {
        const never: never = entry;
        throw new LcowError('EINVAL', 'unknown entry kind', { entry: never });
      }
    }
  }

  /** Throw ETOOBIG when `blocks` more data (plus the metadata so far) would pass the maximum size. */
  private checkRoom(blocks: number, tarName: string): void {
    const next = this.out.position / BLOCK_SIZE;
    const meta = ceilDiv(this.metaBytesEstimate, BLOCK_SIZE);
    if (next + blocks + meta > this.maxBlocks) {
      throw new LcowError('ETOOBIG', `${tarName}: disk exceeded maximum size of ${this.maxBlocks * BLOCK_SIZE} bytes`, {
        entry: tarName,
        maxDiskSizeBytes: this.maxBlocks * BLOCK_SIZE,
      });
    }
  }

  private async addFile(entry: FileEntry): Promise<void> {
    const { tarName } = entry;
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new LcowError('EBADTAR', `${tarName}: bad size ${entry.size}`, { entry: tarName });
    const slot = this.ns.prepareNonDir(entry.path, tarName);
    const ranges: BlockRange[] = entry.sparse
      ? regionsToBlockRanges(entry.sparse, entry.size, tarName)
      : entry.size > 0
        ? [{ logical: 0, length: ceilDiv(entry.size, BLOCK_SIZE), packed: 0 }]
        : [];
    const dataBlocks = ranges.reduce((n, r) => n + r.length, 0);
    if (ranges.length > 4) this.metaBytesEstimate += extentTreeBlockCount(ranges.length) * BLOCK_SIZE;
    this.checkRoom(dataBlocks, tarName);
    const start = this.out.position / BLOCK_SIZE;
    if (entry.sparse) await this.streamSparse(entry, ranges, start);
    else await this.streamPlain(entry);
    await this.out.alignToBlock();
    const node: FileNode = {
      type: 'file',
      seq: this.ns.nextSeq(),
      meta: metaFromEntry(entry.meta),
      xattrs: new Map(entry.meta.xattrs),
      links: 0,
      size: entry.size,
      dataBlocks,
      extents: splitLongExtents(ranges.map((r) => ({ logical: r.logical, physical: start + r.packed, length: r.length }))),
    };
    this.ns.bind(slot, node, tarName);
  }

  private async streamPlain(entry: FileEntry): Promise<void> {
    let received = 0;
    for await (const chunk of entry.body) {
      received += chunk.length;
      if (received > entry.size) throw new LcowError('EBADTAR', `${entry.tarName}: more data than its size ${entry.size}`, { entry: entry.tarName });
      await this.out.append(chunk);
    }
    if (received !== entry.size) {
      throw new LcowError('EBADTAR', `${entry.tarName}: truncated (${received} of ${entry.size} bytes)`, { entry: entry.tarName });
    }
  }

  /** Regions' bytes arrive back to back; each lands at its packed position, short gaps zero-filled. */
  private async streamSparse(entry: FileEntry, ranges: BlockRange[], startBlock: number): Promise<void> {
    const regions = (entry.sparse ?? []).filter((r) => r.length > 0);
    const cursor = new PackedCursor(ranges);
    const base = startBlock * BLOCK_SIZE;
    let ri = 0;
    let inRegion = 0;
    const expected = regions.reduce((n, r) => n + r.length, 0);
    let received = 0;
    for await (const chunk of entry.body) {
      received += chunk.length;
      if (received > expected) throw new LcowError('EBADTAR', `${entry.tarName}: more sparse data than its map describes`, { entry: entry.tarName });
      let off = 0;
      while (off < chunk.length) {
        const r = regions[ri];
        if (inRegion === 0) {
          const target = base + cursor.positionOf(r.offset);
          await this.out.zeros(target - this.out.position);
        }
        const n = Math.min(chunk.length - off, r.length - inRegion);
        await this.out.append(off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n));
        off += n;
        inRegion += n;
        if (inRegion === r.length) {
          ri++;
          inRegion = 0;
        }
      }
    }
    if (received !== expected) {
      throw new LcowError('EBADTAR', `${entry.tarName}: truncated sparse data (${received} of ${expected} bytes)`, { entry: entry.tarName });
    }
  }

  private async addSymlink(entry: SymlinkEntry): Promise<void> {
    const target = Buffer.from(entry.target, 'utf8');
    if (target.length === 0 || target.length > MAX_SYMLINK_LEN || target.includes(0)) {
      throw new LcowError('EBADTAR', `${entry.tarName}: symlink target must be 1..${MAX_SYMLINK_LEN} bytes without NUL`, { entry: entry.tarName });
    }
    const slot = this.ns.prepareNonDir(entry.path, entry.tarName);
    let block: number | undefined;
    if (target.length > FAST_SYMLINK_MAX) {
      this.checkRoom(1, entry.tarName);
      block = this.out.position / BLOCK_SIZE;
      await this.out.append(target);
      await this.out.alignToBlock();
    }
    this.ns.bind(slot, { type: 'symlink', seq: this.ns.nextSeq(), meta: metaFromEntry(entry.meta), xattrs: new Map(entry.meta.xattrs), links: 0, target, block }, entry.tarName);
  }

  private async finishNow(): Promise<Ext4WriteResult> {
    await this.out.flush();
    const metaStart = this.out.position / BLOCK_SIZE;

    // Inode numbers: root 2, lost+found 11, everything else from 12 in creation order.
    const live = this.ns.liveNodes();
    const inoOf = new Map<Node, number>();
    inoOf.set(this.ns.root, ROOT_INO);
    inoOf.set(this.ns.lostFound, LOST_FOUND_INO);
    let nextIno = LOST_FOUND_INO + 1;
    for (const n of live) if (!inoOf.has(n)) inoOf.set(n, nextIno++);
    const inodes = nextIno - 1;
    const ordered = [...inoOf.entries()].map(([node, ino]) => ({ node, ino })).sort((a, b) => a.ino - b.ino);

    // Plan metadata blocks, in the order they will be written.
    let cursor = metaStart;
    const allocate = () => cursor++;
    const placements: Placement[] = [];
    for (const { node, ino } of ordered) {
      const p: Placement = { ino, node, treeBlocks: 0, xattrs: {}, xattrBlock: 0 };
      let extents: Extent[] = [];
      if (node.type === 'dir') {
        p.dirBlocks = directoryBlockCount(dirNames(node));
        p.dirBlock = cursor;
        cursor += p.dirBlocks;
        extents = splitLongExtents([{ logical: 0, physical: p.dirBlock, length: p.dirBlocks }]);
      } else if (node.type === 'file') {
        extents = node.extents;
      } else if (node.type === 'symlink' && node.block !== undefined) {
        extents = [{ logical: 0, physical: node.block, length: 1 }];
      }
      if (node.type === 'dir' || node.type === 'file' || (node.type === 'symlink' && node.block !== undefined)) {
        p.tree = buildExtentTree(extents, allocate);
        p.treeBlocks = p.tree.blocks.length;
      }
      p.xattrs = layoutXattrs(node.xattrs, { ino });
      if (p.xattrs.block) p.xattrBlock = allocate();
      placements.push(p);
    }
    const geo = computeGeometry(cursor, inodes);
    if (geo.blocksCount > this.maxBlocks) {
      throw new LcowError('ETOOBIG', `disk exceeded maximum size of ${this.maxBlocks * BLOCK_SIZE} bytes`, {
        entry: this.lastEntry,
        maxDiskSizeBytes: this.maxBlocks * BLOCK_SIZE,
        sizeBytes: geo.blocksCount * BLOCK_SIZE,
      });
    }

    // Everything from here on is metadata; its hash names the file system (UUID).
    const hash = createHash('sha256');
    this.out.onBatch = (bytes) => hash.update(bytes);
    for (const p of placements) {
      if (p.node.type === 'dir') await this.out.append(encodeDirectory(dirEntries(p.node, inoOf)));
      for (const t of p.tree?.blocks ?? []) await this.out.append(t.data);
      if (p.xattrs.block) await this.out.append(p.xattrs.block);
    }
    const dirsPerGroup = new Array<number>(geo.groups).fill(0);
    await this.writeInodeTables(placements, geo, dirsPerGroup);
    const blockMaps = this.blockBitmaps(geo, metaStart);
    await this.out.append(blockMaps.data);
    const inodeMaps = inodeBitmaps(geo, inodes);
    await this.out.append(inodeMaps.data);
    await this.out.flush();
    if (this.out.position !== (geo.inodeBitmapStart + geo.groups) * BLOCK_SIZE) {
      throw new LcowError('EIO', 'internal layout mismatch while writing metadata', { position: this.out.position });
    }

    const uuid = uuidFromHash(hash.digest());
    const head = this.encodeHead(geo, blockMaps, inodeMaps, dirsPerGroup, uuid, inodes);
    await writeAll(this.fh, head, head.length, 0);
    const sizeBytes = geo.blocksCount * BLOCK_SIZE;
    try {
      await this.fh.truncate(sizeBytes);
    } catch (err) {
      throw new LcowError('EIO', 'could not set the image length', { sizeBytes }, { cause: err });
    }
    const result = { sizeBytes, blockCount: geo.blocksCount, inodeCount: geo.groups * geo.inodesPerGroup, uuid: formatUuid(uuid) };
    this.log.debug({ ...result, inodesUsed: inodes, groups: geo.groups, dataBlocks: metaStart - this.firstDataBlock }, 'ext4 image finished');
    return result;
  }

  /** Inode tables of all groups, back to back, encoded a megabyte at a time. */
  private async writeInodeTables(placements: Placement[], geo: Geometry, dirsPerGroup: number[]): Promise<void> {
    const total = geo.groups * geo.inodesPerGroup;
    const perChunk = 4096;
    let pi = 0;
    for (let first = 1; first <= total; first += perChunk) {
      const count = Math.min(perChunk, total - first + 1);
      const chunk = Buffer.alloc(count * INODE_SIZE);
      while (pi < placements.length && placements[pi].ino < first + count) {
        const p = placements[pi++];
        encodeInode(inodeFields(p), chunk, (p.ino - first) * INODE_SIZE);
        if (p.node.type === 'dir') dirsPerGroup[Math.floor((p.ino - 1) / geo.inodesPerGroup)]++;
      }
      await this.out.append(chunk);
    }
  }

  private blockBitmaps(geo: Geometry, metaStart: number): GroupBitmaps {
    const maps = new GroupBitmaps(geo.groups);
    maps.setRange(0, 1 + geo.gdtBlocks);
    for (const n of this.ns.liveNodes()) {
      if (n.type === 'file') for (const e of n.extents) maps.setRange(e.physical, e.length);
      else if (n.type === 'symlink' && n.block !== undefined) maps.setBit(n.block);
    }
    maps.setRange(metaStart, geo.inodeBitmapStart + geo.groups - metaStart);
    maps.padGroup(geo.groups - 1, geo.blocksCount - (geo.groups - 1) * BLOCKS_PER_GROUP);
    return maps;
  }

  /** Block 0 (superblock at byte 1024) and the descriptor blocks, zero-padded over the whole reserved area. */
  private encodeHead(geo: Geometry, blockMaps: GroupBitmaps, inodeMaps: GroupBitmaps, dirsPerGroup: number[], uuid: Buffer, inodes: number): Buffer {
    const gds: GroupDescriptor[] = [];
    let freeBlocks = 0;
    for (let g = 0; g < geo.groups; g++) {
      const validBlocks = Math.min(BLOCKS_PER_GROUP, geo.blocksCount - g * BLOCKS_PER_GROUP);
      const free = validBlocks - blockMaps.countUsed(g, validBlocks);
      freeBlocks += free;
      gds.push({
        blockBitmap: geo.blockBitmapStart + g,
        inodeBitmap: geo.inodeBitmapStart + g,
        inodeTable: geo.inodeTableStart + g * geo.inodeTableBlocksPerGroup,
        freeBlocksCount: free,
        freeInodesCount: geo.inodesPerGroup - inodeMaps.countUsed(g, geo.inodesPerGroup),
        usedDirsCount: dirsPerGroup[g],
      });
    }
    const head = Buffer.alloc(this.firstDataBlock * BLOCK_SIZE);
    const sb = encodeSuperblock({
      inodesCount: geo.groups * geo.inodesPerGroup,
      blocksCount: geo.blocksCount,
      reservedBlocksCount: 0,
      freeBlocksCount: freeBlocks,
      freeInodesCount: geo.groups * geo.inodesPerGroup - inodes,
      inodesPerGroup: geo.inodesPerGroup,
      featureCompat: COMPAT.EXT_ATTR | COMPAT.SPARSE_SUPER2,
      featureIncompat: INCOMPAT.FILETYPE | INCOMPAT.EXTENTS | INCOMPAT.FLEX_BG,
      featureRoCompat: RO_COMPAT.SPARSE_SUPER | RO_COMPAT.LARGE_FILE | RO_COMPAT.HUGE_FILE | RO_COMPAT.DIR_NLINK | RO_COMPAT.EXTRA_ISIZE | RO_COMPAT.READONLY,
      uuid,
      volumeName: '',
      // One flex group spans the whole image: all group metadata is packed together.
      logGroupsPerFlex: 31,
      hashSeed: uuidFromHash(createHash('sha256').update(uuid).update('hash seed').digest()),
      timestamp: 0,
    });
    sb.copy(head, SUPERBLOCK_OFFSET);
    encodeGroupDescriptorTable(gds, geo.gdtBlocks, BLOCK_SIZE).copy(head, BLOCK_SIZE);
    return head;
  }
}

function dirNames(d: DirNode): number[] {
  const lens = [1, 2];
  for (const name of d.children.keys()) lens.push(Buffer.byteLength(name, 'utf8'));
  return lens;
}

function fileType(n: Node): number {
  switch (n.type) {
    case 'file':
      return FT.REG_FILE;
    case 'dir':
      return FT.DIR;
    case 'symlink':
      return FT.SYMLINK;
    case 'char':
      return FT.CHRDEV;
    case 'block':
      return FT.BLKDEV;
    case 'fifo':
      return FT.FIFO;
    case 'socket':
      return FT.SOCK;
  }
}

function dirEntries(d: DirNode, inoOf: Map<Node, number>): DirectoryEntry[] {
  const out: DirectoryEntry[] = [
    { name: Buffer.from('.'), inode: inoOf.get(d) as number, fileType: FT.DIR },
    { name: Buffer.from('..'), inode: inoOf.get(d.parent) as number, fileType: FT.DIR },
  ];
  for (const [name, child] of d.children) out.push({ name: Buffer.from(name, 'utf8'), inode: inoOf.get(child) as number, fileType: fileType(child) });
  return out;
}

const TYPE_BITS: Record<Node['type'], number> = { file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK, char: S_IFCHR, block: S_IFBLK, fifo: S_IFIFO, socket: S_IFSOCK };

function inodeFields(p: Placement): InodeFields {
  const n = p.node;
  let size = 0;
  let blocks = p.treeBlocks + (p.xattrBlock ? 1 : 0);
  let flags = 0;
  let iBlock: Buffer = Buffer.alloc(60);
  let links = n.links;
  switch (n.type) {
    case 'file':
      size = n.size;
      blocks += n.dataBlocks;
      break;
    case 'dir':
      size = (p.dirBlocks as number) * BLOCK_SIZE;
      blocks += p.dirBlocks as number;
      links = 2 + n.subdirs > MAX_LINKS ? 1 : 2 + n.subdirs;
      break;
    case 'symlink':
      size = n.target.length;
      if (n.block === undefined) n.target.copy(iBlock);
      else blocks += 1;
      break;
    case 'char':
    case 'block':
      iBlock = encodeDeviceIBlock(n.major, n.minor);
      break;
    default:
      break;
  }
  if (p.tree) {
    flags |= EXT4_EXTENTS_FL;
    iBlock = p.tree.root;
  }
  return {
    mode: TYPE_BITS[n.type] | n.meta.mode,
    uid: n.meta.uid,
    gid: n.meta.gid,
    size,
    linksCount: links,
    blocks512: blocks * (BLOCK_SIZE / 512),
    flags,
    iBlock,
    fileAcl: p.xattrBlock,
    atime: n.meta.atime,
    mtime: n.meta.mtime,
    ctime: n.meta.ctime,
    crtime: n.meta.crtime,
    inlineXattrs: p.xattrs.inline,
  };
}

/** Inodes 1..used are in use (numbers are dense); bits past inodes_per_group are padding. */
function inodeBitmaps(geo: Geometry, used: number): GroupBitmaps {
  const maps = new GroupBitmaps(geo.groups);
  for (let g = 0; g < geo.groups; g++) {
    const inGroup = Math.max(0, Math.min(geo.inodesPerGroup, used - g * geo.inodesPerGroup));
    maps.setRange(g * MAX_INODES_PER_GROUP, inGroup);
    maps.padGroup(g, geo.inodesPerGroup);
  }
  return maps;
}
