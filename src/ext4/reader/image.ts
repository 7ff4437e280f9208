/**
 * Ext4Image: a read-only view of an ext2/3/4 volume on the host — the reader
 * behind Diff, Changes and DiffSize, and `lcow inspect`. It reads images the
 * converter writes, images mkfs.ext4 -d and e2fsck -D write, and images the
 * kernel wrote (extents and block maps, linear and hashed directories,
 * inline data, in-inode and block xattrs, 1/2/4 KiB blocks, 32/64-byte group
 * descriptors, flex_bg, meta_bg; checksums are not verified).
 *
 * Paths are absolute inside the image ('/', '/etc/passwd'); lookups follow
 * no symlinks. Every walk over on-disk pointers is bounded, so a corrupt
 * image ends in EBADIMAGE, never a hang.
 */
import { constants as bufferConstants } from 'node:buffer';
import { Readable } from 'node:stream';
import { LcowError, isLcowError } from '../../errors.js';
import { ROOT_INO, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from '../format/constants.js';
import { decodeDirectoryBlock, decodeInlineDirectory, type DecodedDirEntry } from '../format/directory.js';
import { INCOMPAT, RO_COMPAT, hasIncompat, hasRoCompat } from '../format/features.js';
import { checkDescriptor, decodeGroupDescriptor, descriptorLocation, type GroupDescriptor } from '../format/group-descriptor.js';
import { INODE_FLAGS, blocks512, decodeInode, kindOfMode, type FileKind, type Inode } from '../format/inode.js';
import { decodeSuperblock, type Ext4Superblock } from '../format/superblock.js';
import { decodeInodeXattrs, decodeXattrBlock, type RawXattr } from '../format/xattrs.js';
import { ext4AclToXattr } from './acl.js';
import type { Ext4BlockSource } from './block-source.js';
import { readBlockMap } from './block-map.js';
import { findRun, readExtentTree, type MappedRun } from './file-map.js';
import { statFromInode, type Ext4Stat } from './stat.js';

export interface Ext4DirEntry {
  name: string;
  kind: FileKind;
  inode: number;
}

export interface Ext4WalkEntry {
  /** Absolute path inside the image; '/' for the root. */
  path: string;
  stat: Ext4Stat;
}

/** Longest path (in components) a lookup or walk follows: deeper means a corrupt (cyclic) tree. */
const MAX_DEPTH = 2048;
/** Chunk size for streaming file data. */
const STREAM_CHUNK = 1024 * 1024;
/** Directories larger than this are treated as corrupt (the largest real ones are a few hundred MiB). */
const MAX_DIR_BYTES = 2 ** 31;

class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly capacity: number) {}
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }
}

/** Run `fn`, turning any non-LcowError (a RangeError on a truncated structure, say) into EBADIMAGE. */
async function guarded<T>(what: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isLcowError(err)) throw err;
    throw new LcowError('EBADIMAGE', `ext4: ${what} ${path}: corrupt structure`, { path }, { cause: err });
  }
}

export class Ext4Image {
  private readonly groups = new Map<number, GroupDescriptor>();
  private readonly inodes = new Lru<number, Inode>(4096);
  private readonly maps = new Lru<number, MappedRun[]>(256);
  private readonly dirs = new Lru<number, Map<string, DecodedDirEntry>>(64);
  private readonly hasFileType: boolean;

  private constructor(
    private readonly source: Ext4BlockSource,
    /** The volume's geometry, features, label and uuid. */
    readonly superblock: Ext4Superblock,
    private readonly ownsSource: boolean,
  ) {
    this.hasFileType = hasIncompat(superblock, INCOMPAT.filetype);
  }

  /** Read the volume `source` holds; `ownsSource`: close() closes it too. Not a readable ext4 volume → EBADIMAGE (or EUNSUPPORTED). */
  static async open(source: Ext4BlockSource, ownsSource = false): Promise<Ext4Image> {
    try {
      const sb = decodeSuperblock(await source.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE), source.size);
      const img = new Ext4Image(source, sb, ownsSource);
      const root = await img.inode(ROOT_INO);
      if (kindOfMode(root.mode) !== 'dir') throw new LcowError('EBADIMAGE', 'ext4: the root inode is not a directory', {});
      return img;
    } catch (err) {
      if (isLcowError(err)) throw err;
      throw new LcowError('EBADIMAGE', 'not a readable ext4 image', {}, { cause: err });
    }
  }

  // ---- public API -------------------------------------------------------

  /** lstat: the inode `path` names (the last component is not followed if it is a symlink). */
  stat(path: string): Promise<Ext4Stat> {
    return guarded('stat', path, async () => this.statInode(await this.lookup(path)));
  }

  /** lstat, or undefined when the path does not exist. */
  async tryStat(path: string): Promise<Ext4Stat | undefined> {
    try {
      return await this.stat(path);
    } catch (err) {
      if (isLcowError(err, 'ENOTFOUND')) return undefined;
      throw err;
    }
  }

  /** The directory's entries without '.' and '..', sorted by name (byte order). */
  readdir(path: string): Promise<Ext4DirEntry[]> {
    return guarded('readdir', path, async () => {
      const ino = await this.lookup(path);
      this.expectKind(await this.inode(ino), 'dir', path);
      const dir = await this.dirEntries(ino, path);
      const out: Ext4DirEntry[] = [];
      for (const e of dir.values()) {
        if (e.name === '.' || e.name === '..') continue;
        out.push({ name: e.name, inode: e.ino, kind: e.kind ?? (await this.kindOf(e.ino)) });
      }
      return out.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    });
  }

  /** A regular file's whole content (holes and uninitialised extents as zeros). */
  readFile(path: string): Promise<Buffer> {
    return guarded('readFile', path, async () => {
      const inode = await this.inode(await this.lookup(path));
      this.expectKind(inode, 'file', path);
      if (inode.size > bufferConstants.MAX_LENGTH) {
        throw new LcowError('ETOOBIG', `${path}: ${inode.size} bytes do not fit one buffer; use createReadStream`, { path, size: inode.size });
      }
      return this.readData(inode, 0, inode.size, path);
    });
  }

  /**
   * Stream a regular file's content in chunks of up to 1 MiB; `start` and
   * `end` (inclusive, as in fs.createReadStream) select a byte range.
   */
  createReadStream(path: string, range: { start?: number; end?: number } = {}): Readable {
    const chunks = async function* (this: Ext4Image): AsyncGenerator<Buffer> {
      const inode = await guarded('read', path, async () => {
        const i = await this.inode(await this.lookup(path));
        this.expectKind(i, 'file', path);
        return i;
      });
      const from = Math.max(0, range.start ?? 0);
      const to = Math.min(inode.size, range.end === undefined ? inode.size : range.end + 1);
      for (let off = from; off < to; off += STREAM_CHUNK) {
        const n = Math.min(STREAM_CHUNK, to - off);
        yield await guarded('read', path, () => this.readData(inode, off, n, path));
      }
    };
    return Readable.from(chunks.call(this), { objectMode: false });
  }

  /** A symlink's target (fast symlinks in i_block, inline-data, or in a data block). */
  readlink(path: string): Promise<string> {
    return guarded('readlink', path, async () => {
      const inode = await this.inode(await this.lookup(path));
      this.expectKind(inode, 'symlink', path);
      return (await this.symlinkTarget(inode, path)).toString('utf8');
    });
  }

  /** Every extended attribute, full name → value (ACLs in the getxattr(2) form); system.data (inline data) is not listed. */
  listXattrs(path: string): Promise<Map<string, Buffer>> {
    return guarded('listXattrs', path, async () => {
      const inode = await this.inode(await this.lookup(path));
      const out = new Map<string, Buffer>();
      for (const x of await this.rawXattrs(inode)) {
        if (x.name === 'system.data') continue;
        let value = x.value ?? (await this.eaInodeValue(x, inode.ino));
        if (x.nameIndex === 2 || x.nameIndex === 3) value = ext4AclToXattr(value);
        out.set(x.name, value);
      }
      return out;
    });
  }

  /**
   * Every entry under `path` (default the root, which comes first),
   * depth-first, each directory's entries sorted by name. A directory reached
   * twice (a corrupt, cyclic tree) is reported but not entered again.
   */
  async *walk(path = '/'): AsyncGenerator<Ext4WalkEntry> {
    const start = await this.stat(path);
    const entered = new Set<number>();
    const norm = normalisePath(path);
    yield { path: norm, stat: start };
    if (start.kind !== 'dir') return;
    // Recursion depth is bounded by MAX_DEPTH; `entered` stops cycles through corrupt directory entries.
    const walkDir = async function* (self: Ext4Image, dir: string, ino: number, depth: number): AsyncGenerator<Ext4WalkEntry> {
      if (entered.has(ino) || depth > MAX_DEPTH) return;
      entered.add(ino);
      const entries = await guarded('walk', dir, async () => {
        const m = await self.dirEntries(ino, dir);
        return [...m.values()].filter((e) => e.name !== '.' && e.name !== '..').sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
      });
      for (const e of entries) {
        const p = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
        const stat = await guarded('walk', p, () => self.statInode(e.ino));
        yield { path: p, stat };
        if (stat.kind === 'dir') yield* walkDir(self, p, e.ino, depth + 1);
      }
    };
    yield* walkDir(this, norm, start.inode, 0);
  }

  /** stat by inode number. */
  async statInode(ino: number): Promise<Ext4Stat> {
    const inode = await this.inode(ino);
    const kind = kindOfMode(inode.mode);
    if (!kind) throw new LcowError('EBADIMAGE', `inode ${ino}: unknown file type in mode 0${inode.mode.toString(8)}`, { inode: ino });
    return statFromInode(inode, kind, this.superblock.blockSize);
  }

  async close(): Promise<void> {
    if (this.ownsSource) await this.source.close();
  }

  // ---- lookup -----------------------------------------------------------

  /** Resolve a path to an inode number, following no symlinks. */
  async lookup(path: string): Promise<number> {
    const parts = normalisePath(path)
      .split('/')
      .filter((p) => p !== '');
    if (parts.length > MAX_DEPTH) throw new LcowError('ENOTFOUND', `${path}: path too deep`, { path });
    let ino = ROOT_INO;
    let walked = '';
    for (const part of parts) {
      const dir = await this.dirEntries(ino, walked || '/', path);
      const e = dir.get(part);
      if (!e) throw new LcowError('ENOTFOUND', `${path}: no such file or directory`, { path });
      walked += '/' + part;
      ino = e.ino;
    }
    return ino;
  }

  // ---- inodes -----------------------------------------------------------

  private async group(g: number): Promise<GroupDescriptor> {
    const hit = this.groups.get(g);
    if (hit) return hit;
    const sb = this.superblock;
    const loc = descriptorLocation(sb, g);
    const block = await this.readBlock(loc.block);
    const d = decodeGroupDescriptor(block, loc.offset, sb.descSize);
    checkDescriptor(sb, g, d);
    this.groups.set(g, d);
    return d;
  }

  private async inode(ino: number): Promise<Inode> {
    const hit = this.inodes.get(ino);
    if (hit) return hit;
    const sb = this.superblock;
    if (!Number.isInteger(ino) || ino < 1 || ino > sb.inodesCount) {
      throw new LcowError('EBADIMAGE', `inode number ${ino} is out of range (1..${sb.inodesCount})`, { inode: ino });
    }
    const g = Math.floor((ino - 1) / sb.inodesPerGroup);
    const idx = (ino - 1) % sb.inodesPerGroup;
    const d = await this.group(g);
    const b = await this.source.read(d.inodeTable * sb.blockSize + idx * sb.inodeSize, sb.inodeSize);
    const inode = decodeInode(b, ino, hasRoCompat(sb, RO_COMPAT.huge_file));
    this.inodes.set(ino, inode);
    return inode;
  }

  private async kindOf(ino: number): Promise<FileKind> {
    const k = kindOfMode((await this.inode(ino)).mode);
    if (!k) throw new LcowError('EBADIMAGE', `inode ${ino}: unknown file type`, { inode: ino });
    return k;
  }

  private expectKind(inode: Inode, kind: FileKind, path: string): void {
    const k = kindOfMode(inode.mode);
    if (k !== kind) throw new LcowError('EINVAL', `${path} is a ${k ?? 'unknown'}, not a ${kind}`, { path, kind: k });
  }

  private readBlock = async (block: number): Promise<Buffer> => {
    if (block >= this.superblock.blocksCount) {
      throw new LcowError('EBADIMAGE', `block ${block} is outside the volume`, { block });
    }
    return this.source.read(block * this.superblock.blockSize, this.superblock.blockSize);
  };

  /** The inode's logical → physical map (extents or block map). */
  private async runs(inode: Inode, path: string): Promise<MappedRun[]> {
    const hit = this.maps.get(inode.ino);
    if (hit) return hit;
    const sb = this.superblock;
    const fileBlocks = Math.ceil(inode.size / sb.blockSize);
    let runs: MappedRun[];
    if (inode.flags & INODE_FLAGS.extents) {
      runs = await readExtentTree(inode.iBlock, this.readBlock, sb.blocksCount, inode.ino);
    } else {
      runs = await readBlockMap(inode.iBlock, this.readBlock, sb.blockSize, sb.blocksCount, fileBlocks, inode.ino).catch((err: unknown) => {
        if (isLcowError(err)) throw new LcowError(err.code, `${path}: ${err.message}`, { ...err.context, path }, { cause: err });
        throw err;
      });
    }
    this.maps.set(inode.ino, runs);
    return runs;
  }

  /** Bytes [offset, offset+length) of a file, directory or symlink body. */
  private async readData(inode: Inode, offset: number, length: number, path: string): Promise<Buffer> {
    if (inode.flags & INODE_FLAGS.inline_data) {
      const all = await this.inlineData(inode);
      const out = Buffer.alloc(length);
      all.copy(out, 0, Math.min(offset, all.length), Math.min(offset + length, all.length));
      return out;
    }
    const bs = this.superblock.blockSize;
    const runs = await this.runs(inode, path);
    const out = Buffer.alloc(length);
    const end = offset + length;
    for (let i = findRun(runs, Math.floor(offset / bs)); i < runs.length; i++) {
      const r = runs[i]!;
      const rStart = r.logical * bs;
      if (rStart >= end) break;
      if (r.uninit) continue;
      const from = Math.max(offset, rStart);
      const to = Math.min(end, (r.logical + r.length) * bs);
      if (to <= from) continue;
      const data = await this.source.read(r.physical * bs + (from - rStart), to - from);
      data.copy(out, from - offset);
    }
    return out;
  }

  /** Inline data: the 60 bytes of i_block followed by the system.data xattr value. */
  private async inlineData(inode: Inode): Promise<Buffer> {
    const x = (await this.rawXattrs(inode)).find((a) => a.name === 'system.data');
    const all = Buffer.concat([inode.iBlock, x?.value ?? Buffer.alloc(0)]);
    return all.subarray(0, Math.min(inode.size, all.length));
  }

  private async symlinkTarget(inode: Inode, path: string): Promise<Buffer> {
    if (inode.flags & INODE_FLAGS.inline_data) return this.inlineData(inode);
    const bs = this.superblock.blockSize;
    const dataBlocks = blocks512(inode, bs) - (inode.fileAcl ? bs / 512 : 0);
    // A fast symlink keeps its target in i_block and owns no data block.
    if (inode.size < 60 && dataBlocks <= 0) return inode.iBlock.subarray(0, inode.size);
    if (inode.size > 4096 * 16) throw new LcowError('EBADIMAGE', `${path}: symlink of ${inode.size} bytes`, { path });
    return this.readData(inode, 0, inode.size, path);
  }

  // ---- directories ------------------------------------------------------

  private async dirEntries(ino: number, dirPath: string, forPath = dirPath): Promise<Map<string, DecodedDirEntry>> {
    const hit = this.dirs.get(ino);
    if (hit) return hit;
    const inode = await this.inode(ino);
    if (kindOfMode(inode.mode) !== 'dir') {
      throw new LcowError('ENOTFOUND', `${forPath}: ${dirPath} is not a directory`, { path: forPath });
    }
    let list: DecodedDirEntry[];
    if (inode.flags & INODE_FLAGS.inline_data) {
      const x = (await this.rawXattrs(inode)).find((a) => a.name === 'system.data');
      list = decodeInlineDirectory(inode.iBlock, x?.value, this.hasFileType, ino);
    } else {
      if (inode.size > MAX_DIR_BYTES) throw new LcowError('EBADIMAGE', `directory ${dirPath} claims ${inode.size} bytes`, { path: dirPath });
      list = [];
      const bs = this.superblock.blockSize;
      const fileBlocks = Math.ceil(inode.size / bs);
      for (const r of await this.runs(inode, dirPath)) {
        if (r.uninit) continue;
        for (let k = 0; k < r.length && r.logical + k < fileBlocks; k++) {
          decodeDirectoryBlock(await this.readBlock(r.physical + k), this.hasFileType, ino, list);
        }
      }
    }
    const map = new Map<string, DecodedDirEntry>();
    for (const e of list) if (!map.has(e.name)) map.set(e.name, e);
    this.dirs.set(ino, map);
    return map;
  }

  // ---- xattrs -----------------------------------------------------------

  private async rawXattrs(inode: Inode): Promise<RawXattr[]> {
    const out = decodeInodeXattrs(inode.xattrArea, inode.ino);
    if (inode.fileAcl !== 0) out.push(...decodeXattrBlock(await this.readBlock(inode.fileAcl), inode.ino));
    return out;
  }

  /** ea_inode feature: a large value lives in the data of its own inode. */
  private async eaInodeValue(x: RawXattr, owner: number): Promise<Buffer> {
    const ea = await this.inode(x.valueInode);
    if (x.valueSize > 64 * 1024 * 1024) throw new LcowError('EBADIMAGE', `inode ${owner}: xattr ${x.name} value of ${x.valueSize} bytes`, { inode: owner });
    return this.readData(ea, 0, x.valueSize, `<xattr ${x.name} of inode ${owner}>`);
  }
}

function normalisePath(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return '/' + parts.join('/');
}
