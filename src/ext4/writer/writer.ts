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
import { textToBuffer } from '../../byte-names.js';
import type { PositionalFile } from '../../fd-file.js';
import { StreamDigest, sha256 } from '../../digest/index.js';
import { LcowError } from '../../errors.js';
import { componentLogger, type Logger } from '../../log.js';
import type { FileEntry, LayerEntry, SymlinkEntry } from './entry.js';
import { BatchWriter, writeAll } from './batch-writer.js';
import { GroupBitmaps } from '../format/bitmaps.js';
import {
  BLOCKS_PER_GROUP,
  BLOCK_SIZE,
  DEFAULT_MAX_DISK_SIZE,
  FAST_SYMLINK_MAX,
  INODE_SIZE,
  MAX_INODES_PER_GROUP,
  MAX_SYMLINK_LEN,
  SUPERBLOCK_OFFSET,
  ceilDiv,
} from '../format/constants.js';
import { direntSize } from '../format/directory.js';
import { extentTreeBlockCount, splitLongExtents } from '../format/extents.js';
import { computeGeometry, reservedGdtBlocks, type Geometry } from './geometry.js';
import { COMPAT, INCOMPAT, RO_COMPAT } from '../format/features.js';
import { encodeGroupDescriptorTable, type GroupDescriptor } from '../format/group-descriptor.js';
import { encodeInode } from '../format/inode.js';
import { MetaInterner, Namespace, ownXattrs, setXattr, type FileNode, type Node, type NodeMeta } from './namespace.js';
import { DirectoryScratch, hasMetadataBlocks, inodeFieldsOf, metadataBlockCount, writeNodeMetadata } from './node-metadata.js';
import { PackedCursor, regionsToBlockRanges, type BlockRange } from './sparse-ranges.js';
import { encodeSuperblock } from '../format/superblock.js';
import { formatUuid, uuidFromHash } from '../format/uuid.js';

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
/** The block ranges of a file that is not sparse (it is one run; see addFile). */
const NO_RANGES: readonly BlockRange[] = [];
/** Inodes encoded per inode-table write (128 KiB). */
const INODE_CHUNK = 512;

export class Ext4Writer {
  private readonly ns = new Namespace();
  private readonly metas = new MetaInterner();
  private readonly out: BatchWriter;
  private readonly log: Logger;
  private readonly maxBlocks: number;
  private readonly firstDataBlock: number;
  /** Serialises add()/finish() so callers that forget to await cannot interleave data. */
  private chain: Promise<unknown> = Promise.resolve();
  /** add()/finish() calls not settled yet: tryAdd() works only when there is none. */
  private running = 0;
  private failure: unknown;
  private finished = false;
  private lastEntry: string | undefined;
  /** Running guess of metadata size, so ETOOBIG names the entry that crossed the limit. */
  private metaBytesEstimate = 64 * 1024;

  private constructor(
    private readonly fh: PositionalFile,
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
  static create(fh: PositionalFile, options: Ext4WriterOptions = {}): Ext4Writer {
    return new Ext4Writer(fh, options);
  }

  /** Add one normalised entry. For 'file' entries, consumes entry.body fully before resolving. */
  add(entry: LayerEntry): Promise<void> {
    return this.serialised(async () => this.addNow(entry));
  }

  /**
   * Adds `entry` at once, without an await, when that is possible: no add()
   * is still running, and a file is an ordinary one whose whole body is in
   * memory (`body.takeAllNow`) and fits the current write batch — most files
   * of a layer. Returns false, having done nothing, otherwise: add() it then.
   * Errors are thrown, as add() would reject with them, and fail the writer
   * alike. Why: on a layer of many small files, the promises of add()'s
   * async steps were ~3.5 µs an entry and a good part of the GC's work.
   */
  tryAdd(entry: LayerEntry): boolean {
    if (this.running > 0 || this.failure !== undefined || this.finished) return false;
    let data: Buffer | undefined;
    if (entry.kind === 'file') {
      if (entry.sparse || !entry.body.takeAllNow || !this.out.fitsNow(entry.size + BLOCK_SIZE)) return false;
      data = entry.body.takeAllNow();
      if (data === undefined) return false;
    } else if (entry.kind === 'symlink' && !this.out.fitsNow(MAX_SYMLINK_LEN + BLOCK_SIZE)) {
      return false;
    }
    try {
      // Synchronous by the checks above: a file's bytes and a long symlink's target fit the batch.
      if (this.addNow(entry, data) !== undefined) throw new LcowError('EINVAL', 'internal: tryAdd started an add that must wait', { entry: entry.tarName });
    } catch (err) {
      this.failure = err;
      throw err;
    }
    return true;
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
    this.running++;
    const settled = (): void => {
      this.running--;
    };
    this.chain = run.then(settled, settled);
    return run;
  }

  /** The entry's work: a promise only when bytes must wait (for the body, or for a batch to go out). `data`: a file's whole body, already taken. */
  private addNow(entry: LayerEntry, data?: Buffer): void | Promise<void> {
    this.lastEntry = entry.tarName;
    if (entry.kind === 'opaque') {
      setXattr(this.ns.dirAt(entry.path, entry.tarName), OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    this.metaBytesEstimate += INODE_SIZE + direntSize(Buffer.byteLength(entry.path)) + (entry.meta.xattrs.size > 0 ? BLOCK_SIZE : 0);
    const meta = this.metas.of(entry.meta);
    const xattrs = ownXattrs(entry.meta.xattrs);
    switch (entry.kind) {
      case 'dir': {
        const dir = this.ns.putDir(entry.path, entry.tarName, meta, entry.meta.xattrs);
        if (entry.opaque) setXattr(dir, OPAQUE_XATTR, Buffer.from('y'));
        this.checkRoom(0, entry.tarName);
        return;
      }
      case 'file':
        return this.addFile(entry, meta, xattrs, data);
      case 'symlink':
        return this.addSymlink(entry, meta, xattrs);
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
        this.ns.bind(slot, { type: entry.kind, seq: this.ns.nextSeq(), ino: 0, meta, xattrs, links: 0, major: entry.major, minor: entry.minor }, entry.tarName);
        return;
      }
      case 'fifo':
      case 'socket': {
        const slot = this.ns.prepareNonDir(entry.path, entry.tarName);
        this.ns.bind(slot, { type: entry.kind, seq: this.ns.nextSeq(), ino: 0, meta, xattrs, links: 0 }, entry.tarName);
        return;
      }
      case 'whiteout': {
        // overlayfs whiteout: a character device 0:0 with no permission bits.
        const slot = this.ns.prepareNonDir(entry.path, entry.tarName);
        this.ns.bind(slot, { type: 'char', seq: this.ns.nextSeq(), ino: 0, meta: { ...meta, mode: 0 }, xattrs, links: 0, major: 0, minor: 0 }, entry.tarName);
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

  private addFile(entry: FileEntry, meta: NodeMeta, xattrs: Map<string, Buffer> | undefined, data?: Buffer): void | Promise<void> {
    const { tarName } = entry;
    if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new LcowError('EBADTAR', `${tarName}: bad size ${entry.size}`, { entry: tarName });
    const slot = this.ns.prepareNonDir(entry.path, tarName);
    if (data !== undefined && data.length !== entry.size) throw wrongBodySize(entry, data.length);
    // Block ranges only for a sparse file: an ordinary one is one run (no array, object or closure per file).
    const ranges = entry.sparse ? regionsToBlockRanges(entry.sparse, entry.size, tarName) : NO_RANGES;
    let dataBlocks = 0;
    if (entry.sparse) for (let i = 0; i < ranges.length; i++) dataBlocks += ranges[i]!.length;
    else dataBlocks = ceilDiv(entry.size, BLOCK_SIZE);
    if (ranges.length > 4) this.metaBytesEstimate += extentTreeBlockCount(ranges.length) * BLOCK_SIZE;
    this.checkRoom(dataBlocks, tarName);
    const start = this.out.position / BLOCK_SIZE;
    if (data !== undefined && !entry.sparse && this.out.fitsNow(data.length + BLOCK_SIZE)) {
      this.out.appendNow(data);
      this.out.alignNow();
      this.bindFile(entry, meta, xattrs, slot, ranges, start, dataBlocks);
      return;
    }
    return this.streamFile({ entry, meta, xattrs, slot, ranges, start, dataBlocks }, data);
  }

  private async streamFile(plan: FilePlan, data: Buffer | undefined): Promise<void> {
    const { entry } = plan;
    if (entry.sparse) await this.streamSparse(entry, plan.ranges, plan.start);
    else if (data !== undefined) await this.out.append(data);
    else await this.streamPlain(entry);
    await this.out.alignToBlock();
    this.bindFile(entry, plan.meta, plan.xattrs, plan.slot, plan.ranges, plan.start, plan.dataBlocks);
  }

  private bindFile(
    entry: FileEntry,
    meta: NodeMeta,
    xattrs: Map<string, Buffer> | undefined,
    slot: FilePlan['slot'],
    ranges: readonly BlockRange[],
    start: number,
    dataBlocks: number,
  ): void {
    const node: FileNode = {
      type: 'file',
      seq: this.ns.nextSeq(),
      ino: 0,
      meta,
      xattrs,
      links: 0,
      size: entry.size,
      start,
      dataBlocks,
    };
    if (entry.sparse) node.runs = splitLongExtents(ranges.map((r) => ({ logical: r.logical, physical: start + r.packed, length: r.length })));
    this.ns.bind(slot, node, entry.tarName);
  }

  private async streamPlain(entry: FileEntry): Promise<void> {
    let received = 0;
    for await (const chunk of entry.body) {
      received += chunk.length;
      if (received > entry.size) throw wrongBodySize(entry, received);
      await this.out.append(chunk);
    }
    if (received !== entry.size) throw wrongBodySize(entry, received);
  }

  /** Regions' bytes arrive back to back; each lands at its packed position, short gaps zero-filled. */
  private async streamSparse(entry: FileEntry, ranges: readonly BlockRange[], startBlock: number): Promise<void> {
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
        if (!r) throw new LcowError('EBADTAR', `${entry.tarName}: more sparse data than its map describes`, { entry: entry.tarName });
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

  private addSymlink(entry: SymlinkEntry, meta: NodeMeta, xattrs: Map<string, Buffer> | undefined): void | Promise<void> {
    const target = textToBuffer(entry.target);
    if (target.length === 0 || target.length > MAX_SYMLINK_LEN || target.includes(0)) {
      throw new LcowError('EBADTAR', `${entry.tarName}: symlink target must be 1..${MAX_SYMLINK_LEN} bytes without NUL`, { entry: entry.tarName });
    }
    const slot = this.ns.prepareNonDir(entry.path, entry.tarName);
    const bind = (block: number | undefined): void =>
      this.ns.bind(slot, { type: 'symlink', seq: this.ns.nextSeq(), ino: 0, meta, xattrs, links: 0, target, block }, entry.tarName);
    if (target.length <= FAST_SYMLINK_MAX) return bind(undefined);
    // A long target takes a block of its own.
    this.checkRoom(1, entry.tarName);
    const block = this.out.position / BLOCK_SIZE;
    if (this.out.fitsNow(target.length + BLOCK_SIZE)) {
      this.out.appendNow(target);
      this.out.alignNow();
      return bind(block);
    }
    return (async () => {
      await this.out.append(target);
      await this.out.alignToBlock();
      bind(block);
    })();
  }

  private async finishNow(): Promise<Ext4WriteResult> {
    await this.out.flush();
    const metaStart = this.out.position / BLOCK_SIZE;

    // Plan: each node's first metadata block, in inode order (the order they are written).
    const nodes = this.ns.numberInodes();
    const inodes = nodes[nodes.length - 1]!.ino;
    const firstMeta = new Float64Array(nodes.length);
    let cursor = metaStart;
    for (let i = 0; i < nodes.length; i++) {
      firstMeta[i] = cursor;
      cursor += metadataBlockCount(nodes[i]!);
    }
    const geo = computeGeometry(cursor, inodes);
    if (geo.blocksCount > this.maxBlocks) {
      throw new LcowError('ETOOBIG', `disk exceeded maximum size of ${this.maxBlocks * BLOCK_SIZE} bytes`, {
        entry: this.lastEntry,
        maxDiskSizeBytes: this.maxBlocks * BLOCK_SIZE,
        sizeBytes: geo.blocksCount * BLOCK_SIZE,
      });
    }

    // Everything from here on is metadata; its digest names the file system (UUID).
    const hash = new StreamDigest();
    this.out.onBatch = (bytes) => hash.update(bytes);
    const scratch = new DirectoryScratch();
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      if (hasMetadataBlocks(n)) await writeNodeMetadata(n, firstMeta[i]!, this.out, scratch);
    }
    if (this.out.position !== cursor * BLOCK_SIZE) {
      throw new LcowError('EIO', 'internal layout mismatch while writing metadata blocks', { position: this.out.position, planned: cursor * BLOCK_SIZE });
    }
    const dirsPerGroup = new Array<number>(geo.groups).fill(0);
    await this.writeInodeTables(nodes, firstMeta, geo, dirsPerGroup);
    const blockMaps = blockBitmaps(nodes, geo, metaStart);
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

  /**
   * Inode tables of all groups, back to back, encoded INODE_CHUNK inodes at
   * a time into one reused buffer (the batch writer copies what it is given).
   */
  private async writeInodeTables(nodes: Node[], firstMeta: Float64Array, geo: Geometry, dirsPerGroup: number[]): Promise<void> {
    const total = geo.groups * geo.inodesPerGroup;
    const chunk = Buffer.alloc(INODE_CHUNK * INODE_SIZE);
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
    let i = 0;
    for (let first = 1; first <= total; first += INODE_CHUNK) {
      const count = Math.min(INODE_CHUNK, total - first + 1);
      chunk.fill(0);
      while (i < nodes.length && nodes[i]!.ino < first + count) {
        const n = nodes[i]!;
        encodeInode(inodeFieldsOf(n, firstMeta[i]!), chunk, (n.ino - first) * INODE_SIZE, view);
        if (n.type === 'dir') dirsPerGroup[Math.floor((n.ino - 1) / geo.inodesPerGroup)]!++;
        i++;
      }
      await this.out.append(count === INODE_CHUNK ? chunk : chunk.subarray(0, count * INODE_SIZE));
    }
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
        usedDirsCount: dirsPerGroup[g]!,
        flags: 0,
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
      featureCompat: COMPAT.ext_attr | COMPAT.sparse_super2,
      featureIncompat: INCOMPAT.filetype | INCOMPAT.extent | INCOMPAT.flex_bg,
      featureRoCompat: RO_COMPAT.sparse_super | RO_COMPAT.large_file | RO_COMPAT.huge_file | RO_COMPAT.dir_nlink | RO_COMPAT.extra_isize | RO_COMPAT.read_only,
      uuid,
      label: '',
      // One flex group spans the whole image: all group metadata is packed together.
      logGroupsPerFlex: 31,
      hashSeed: uuidFromHash(sha256(uuid, 'hash seed')),
      timestamp: 0,
    });
    sb.copy(head, SUPERBLOCK_OFFSET);
    encodeGroupDescriptorTable(gds, geo.gdtBlocks, BLOCK_SIZE).copy(head, BLOCK_SIZE);
    return head;
  }
}

/** Data, long symlinks and all of [metaStart, end of the inode bitmaps) are in use; the padding past the last block is set. */
function blockBitmaps(nodes: Node[], geo: Geometry, metaStart: number): GroupBitmaps {
  const maps = new GroupBitmaps(geo.groups);
  maps.setRange(0, 1 + geo.gdtBlocks);
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n.type === 'file') {
      // A file's data blocks are contiguous from `start` (sparse files: packed, holes take none).
      if (n.dataBlocks > 0) maps.setRange(n.start, n.dataBlocks);
    } else if (n.type === 'symlink' && n.block !== undefined) maps.setBit(n.block);
  }
  maps.setRange(metaStart, geo.inodeBitmapStart + geo.groups - metaStart);
  maps.padGroup(geo.groups - 1, geo.blocksCount - (geo.groups - 1) * BLOCKS_PER_GROUP);
  return maps;
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

/** A file between its checks and its binding: where its bytes go and what its inode will say. */
interface FilePlan {
  entry: FileEntry;
  meta: NodeMeta;
  xattrs: Map<string, Buffer> | undefined;
  slot: ReturnType<Namespace['prepareNonDir']>;
  ranges: readonly BlockRange[];
  /** First block of its data. */
  start: number;
  dataBlocks: number;
}

/** A body that does not hold the file's size: more or fewer bytes, as streamPlain says it. */
function wrongBodySize(entry: FileEntry, received: number): LcowError {
  return received > entry.size
    ? new LcowError('EBADTAR', `${entry.tarName}: more data than its size ${entry.size}`, { entry: entry.tarName })
    : new LcowError('EBADTAR', `${entry.tarName}: truncated (${received} of ${entry.size} bytes)`, { entry: entry.tarName });
}
