/**
 * Ext4Image: a read-only view of an ext2/3/4 volume on the host — the reader
 * behind Diff, Changes and DiffSize, and `lcow inspect`. It reads images the
 * converter writes, images mkfs.ext4 -d and e2fsck -D write, and images the
 * kernel wrote (extents and block maps, linear and hashed directories,
 * inline data, in-inode and block xattrs, 1/2/4 KiB blocks, 32/64-byte group
 * descriptors, flex_bg, meta_bg; checksums are not verified).
 *
 * The image may be hostile (a sandbox a container wrote as root): nothing on
 * disk is trusted to terminate or to be as large as it claims; see the
 * README for the rules and the bounds.
 *
 * Two faces. Paths as text ('/etc/passwd'; UTF-8, stray bytes as
 * U+DC80..U+DCFF, see src/byte-names.ts) for people and the CLI; and
 * inode numbers with names as ByteStrings for walks, which never look a path
 * up again (a lookup per entry made a 1,000-level tree cost the square of
 * its depth). Lookups follow no symlinks.
 */
import { constants as bufferConstants } from 'node:buffer';
import { Readable } from 'node:stream';
import { LcowError, isLcowError, isSystemError } from '../../errors.js';
import { byteStringOf, bytesToText, joinBytePath, normaliseBytePath, textToBytes, type ByteString } from '../../byte-names.js';
import { ROOT_INO, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from '../format/constants.js';
import { decodeDirectoryBlock, decodeInlineDirectory, type DecodedDirEntry } from '../format/directory.js';
import { INCOMPAT, RO_COMPAT, hasIncompat, hasRoCompat } from '../format/features.js';
import { checkDescriptor, decodeGroupDescriptor, descriptorLocation, type GroupDescriptor } from '../format/group-descriptor.js';
import { INODE_FLAGS, blocks512, decodeInode, kindOfMode, maxFileSize, type FileKind, type Inode } from '../format/inode.js';
import { decodeSuperblock, type Ext4Superblock } from '../format/superblock.js';
import { XATTR_BYTES_PER_INODE_MAX, XATTR_VALUE_MAX, decodeInodeXattrs, decodeXattrBlock, type RawXattr } from '../format/xattrs.js';
import { ext4AclToXattr } from './acl.js';
import type { Ext4BlockSource } from './block-source.js';
import { readBlockMap } from './block-map.js';
import { findRun, readExtentTree, type MappedRun } from './file-map.js';
import { Lru } from './lru.js';
import { statFromInode, type Ext4Stat } from './stat.js';
import { WalkBudget, type HeldEntries } from './walk-budget.js';

export interface Ext4DirEntry {
  /** The name as text (exact: stray bytes as U+DC80..U+DCFF). */
  name: string;
  /** The name's bytes. */
  rawName: ByteString;
  kind: FileKind;
  inode: number;
}

/** One entry of a directory as a walk sees it: its name's bytes, its inode number, and the type the entry claims (the inode decides). */
export type Ext4Dirent = DecodedDirEntry;

export interface Ext4WalkEntry {
  /** Absolute path inside the image as text; '/' for the root. */
  path: string;
  rawPath: ByteString;
  stat: Ext4Stat;
}

/** A run of file bytes: `length` bytes at `offset`. */
export interface DataRegion {
  offset: number;
  length: number;
}

/** Chunk size for streaming file data. */
const STREAM_CHUNK = 1024 * 1024;
/** Directories larger than this are treated as corrupt (the largest real ones are a few hundred MiB). */
const MAX_DIR_BYTES = 2 ** 31;
/** A symlink target longer than this is corrupt (PATH_MAX is 4096). */
const MAX_SYMLINK_BYTES = 64 * 1024;
/** Cache budgets in bytes of heap, each value weighed roughly (objects, map slots and the buffers they hold). */
const INODE_CACHE_BYTES = 4 * 1024 * 1024;
const MAP_CACHE_BYTES = 8 * 1024 * 1024;
const DIR_CACHE_BYTES = 16 * 1024 * 1024;

/** Run `fn`, turning any non-LcowError into one: a failed system call into EIO, anything else (a RangeError on a truncated structure, say) into EBADIMAGE. */
async function guarded<T>(what: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isLcowError(err)) throw err;
    if (isSystemError(err)) {
      throw new LcowError('EIO', `ext4: ${what} ${path}: ${(err as Error).message}`, { path }, { cause: err });
    }
    throw new LcowError('EBADIMAGE', `ext4: ${what} ${path}: corrupt structure`, { path }, { cause: err });
  }
}

export class Ext4Image {
  private readonly groups = new Map<number, GroupDescriptor>();
  private readonly inodes = new Lru<number, Inode>(INODE_CACHE_BYTES, (i) => 400 + i.xattrArea.length);
  private readonly maps = new Lru<number, MappedRun[]>(MAP_CACHE_BYTES, (r) => 100 + 56 * r.length);
  private readonly dirs = new Lru<number, Map<ByteString, DecodedDirEntry>>(DIR_CACHE_BYTES, (m) => 100 + 120 * m.size);
  private readonly hasFileType: boolean;

  private constructor(
    private readonly source: Ext4BlockSource,
    /** The volume's geometry, features, label and uuid. */
    readonly superblock: Ext4Superblock,
    private readonly ownsSource: boolean,
  ) {
    this.hasFileType = hasIncompat(superblock, INCOMPAT.filetype);
  }

  /** Read the volume `source` holds; `ownsSource`: close() closes it too. Not a readable ext4 volume -> EBADIMAGE (or EUNSUPPORTED). */
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

  async close(): Promise<void> {
    if (this.ownsSource) await this.source.close();
  }

  // ---- paths as text ----------------------------------------------------

  /** lstat: the inode `path` names (the last component is not followed if it is a symlink). */
  stat(path: string): Promise<Ext4Stat> {
    return guarded('stat', path, async () => this.statOf(await this.resolve(textToBytes(path))));
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
      const out: Ext4DirEntry[] = [];
      for (const e of await this.listDirectory(ino)) {
        out.push({ name: bytesToText(e.name), rawName: e.name, inode: e.ino, kind: (await this.statOf(e.ino)).kind });
      }
      return out;
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
    return this.streamFile(async () => this.lookup(path), path, range);
  }

  /** A symlink's target as text (fast symlinks in i_block, inline-data, or in a data block). */
  readlink(path: string): Promise<string> {
    return guarded('readlink', path, async () => bytesToText(byteStringOf(await this.readlinkInode(await this.lookup(path)))));
  }

  /** Every extended attribute, full name -> value (ACLs in the getxattr(2) form); system.data (inline data) is not listed. */
  listXattrs(path: string): Promise<Map<string, Buffer>> {
    return guarded('listXattrs', path, async () => this.xattrsOfInode(await this.lookup(path)));
  }

  /**
   * Every entry under `path` (default the root, which comes first),
   * depth-first, each directory's entries sorted by name bytes. An explicit
   * stack, no depth limit; a directory reached twice is EBADIMAGE.
   */
  async *walk(path = '/'): AsyncGenerator<Ext4WalkEntry> {
    const rawStart = normaliseBytePath(textToBytes(path));
    const startIno = await guarded('walk', path, () => this.lookupBytes(rawStart));
    const start = await guarded('walk', path, () => this.statOf(startIno));
    yield { path: bytesToText(rawStart), rawPath: rawStart, stat: start };
    if (start.kind !== 'dir') return;
    const budget = new WalkBudget();
    const stack = [{ path: rawStart, entries: await this.listDirectory(startIno, budget, rawStart), next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const e = top.entries[top.next++];
      if (e === undefined) {
        stack.pop();
        budget.release(top.entries.length);
        continue;
      }
      const p = joinBytePath(top.path, e.name);
      const stat = await guarded('walk', bytesToText(p), () => this.statOf(e.ino));
      yield { path: bytesToText(p), rawPath: p, stat };
      if (stat.kind === 'dir') stack.push({ path: p, entries: await this.listDirectory(e.ino, budget, p), next: 0 });
    }
  }

  /** Resolve a path to an inode number, following no symlinks. */
  lookup(path: string): Promise<number> {
    return this.lookupBytes(textToBytes(path));
  }

  // ---- inodes and bytes, for walks ----------------------------------------

  /** A budget for one walk: pass the same one to every listDirectory and dataRegions call of that walk; `held` when other images' walks share the entries cap. */
  newBudget(held?: HeldEntries): WalkBudget {
    return new WalkBudget(held);
  }

  /** Resolve a path given as bytes. */
  lookupBytes(path: ByteString): Promise<number> {
    return guarded('lookup', bytesToText(path), () => this.resolve(path));
  }

  private async resolve(path: ByteString): Promise<number> {
    let ino = ROOT_INO;
    let walked = '/' as ByteString;
    for (const part of normaliseBytePath(path).split('/')) {
      if (part === '') continue;
      const name = part as ByteString;
      const e = (await this.dirMap(ino, walked, path)).get(name);
      if (!e) throw new LcowError('ENOTFOUND', `${bytesToText(path)}: no such file or directory`, { path: bytesToText(path) });
      walked = joinBytePath(walked, name);
      ino = e.ino;
    }
    return ino;
  }

  /** stat by inode number. */
  statInode(ino: number): Promise<Ext4Stat> {
    return guarded('stat', `<inode ${ino}>`, () => this.statOf(ino));
  }

  /**
   * A directory's entries without '.' and '..', sorted by name bytes, not
   * cached (a walk lists each directory once). With a budget, the directory
   * must not have been entered before in that walk, its blocks are claimed,
   * and its entries count as held until `budget.release(entries.length)`.
   * Duplicate names are EBADIMAGE.
   */
  listDirectory(ino: number, budget?: WalkBudget, path?: ByteString): Promise<Ext4Dirent[]> {
    const where = path === undefined ? `<inode ${ino}>` : bytesToText(path);
    return guarded('readdir', where, async () => {
      budget?.enterDirectory(ino, where);
      // The decoder holds '.' and '..' to the first two places.
      const out = (await this.readDirectory(ino, where, budget)).filter((e) => e.name !== '.' && e.name !== '..');
      budget?.hold(out.length, where);
      out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (let i = 1; i < out.length; i++) {
        if (out[i]!.name === out[i - 1]!.name) throw duplicateName(where, out[i]!.name, ino);
      }
      return out;
    });
  }

  /** A symlink target's bytes. */
  readlinkInode(ino: number): Promise<Buffer> {
    return guarded('readlink', `<inode ${ino}>`, async () => {
      const inode = await this.inode(ino);
      this.expectKind(inode, 'symlink', `<inode ${ino}>`);
      return this.symlinkTarget(inode, `<inode ${ino}>`);
    });
  }

  /** Every extended attribute of an inode; see listXattrs. Values over 64 KiB, over 1 MiB in all, or in value inodes the volume has no feature for are EBADIMAGE. */
  xattrsOfInode(ino: number): Promise<Map<string, Buffer>> {
    return guarded('listXattrs', `<inode ${ino}>`, async () => {
      const inode = await this.inode(ino);
      const raw = await this.rawXattrs(inode);
      let total = 0;
      for (const x of raw) {
        if (x.valueInode !== 0 && !hasIncompat(this.superblock, INCOMPAT.ea_inode)) {
          throw new LcowError('EBADIMAGE', `inode ${ino}: xattr ${x.name} lives in inode ${x.valueInode}, but the volume has no ea_inode feature`, {
            inode: ino,
          });
        }
        if (x.valueSize > XATTR_VALUE_MAX) throw new LcowError('EBADIMAGE', `inode ${ino}: xattr ${x.name} of ${x.valueSize} bytes`, { inode: ino });
        total += x.valueSize;
        if (total > XATTR_BYTES_PER_INODE_MAX) {
          throw new LcowError('EBADIMAGE', `inode ${ino}: more than ${XATTR_BYTES_PER_INODE_MAX} bytes of xattr values`, { inode: ino });
        }
      }
      const out = new Map<string, Buffer>();
      for (const x of raw) {
        if (x.name === 'system.data') continue;
        let value = x.value ?? (await this.eaInodeValue(x, ino));
        if (x.nameIndex === 2 || x.nameIndex === 3) value = ext4AclToXattr(value);
        out.set(x.name, value);
      }
      return out;
    });
  }

  /**
   * Where a regular file holds data: its initialised extents as byte ranges,
   * ascending, merged, cut at i_size. Everything else reads as zeros (holes
   * and uninitialised extents). With a budget, the file's blocks are claimed.
   */
  dataRegions(ino: number, budget?: WalkBudget): Promise<DataRegion[]> {
    const where = `<inode ${ino}>`;
    return guarded('read', where, async () => {
      const inode = await this.inode(ino);
      this.expectKind(inode, 'file', where);
      if (inode.size === 0) return []; // blocks past the end are never read, so need no claim
      if (inode.flags & INODE_FLAGS.inline_data) return [{ offset: 0, length: inode.size }];
      const runs = await this.runs(inode, where);
      budget?.claim(ino, runs);
      const bs = this.superblock.blockSize;
      const out: DataRegion[] = [];
      for (const r of runs) {
        if (r.uninit) continue;
        const offset = r.logical * bs;
        if (offset >= inode.size) break;
        const length = Math.min((r.logical + r.length) * bs, inode.size) - offset;
        const last = out[out.length - 1];
        if (last && last.offset + last.length === offset) last.length += length;
        else out.push({ offset, length });
      }
      return out;
    });
  }

  /** The bytes of `regions` of a regular file, back to back, in chunks of up to 1 MiB. */
  async *readRegions(ino: number, regions: readonly DataRegion[]): AsyncGenerator<Buffer> {
    const where = `<inode ${ino}>`;
    const inode = await guarded('read', where, () => this.inode(ino));
    this.expectKind(inode, 'file', where);
    for (const r of regions) {
      const end = Math.min(r.offset + r.length, inode.size);
      for (let off = r.offset; off < end; off += STREAM_CHUNK) {
        const n = Math.min(STREAM_CHUNK, end - off);
        yield await guarded('read', where, () => this.readData(inode, off, n, where));
      }
    }
  }

  /** createReadStream by inode number. */
  streamInode(ino: number, range: { start?: number; end?: number } = {}): Readable {
    return this.streamFile(async () => ino, `<inode ${ino}>`, range);
  }

  // ---- inodes -----------------------------------------------------------

  private streamFile(resolve: () => Promise<number>, path: string, range: { start?: number; end?: number }): Readable {
    const chunks = async function* (this: Ext4Image): AsyncGenerator<Buffer> {
      const inode = await guarded('read', path, async () => {
        const i = await this.inode(await resolve());
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

  private async statOf(ino: number): Promise<Ext4Stat> {
    const inode = await this.inode(ino);
    const kind = kindOfMode(inode.mode);
    if (!kind) throw new LcowError('EBADIMAGE', `inode ${ino}: unknown file type in mode 0${inode.mode.toString(8)}`, { inode: ino });
    return statFromInode(inode, kind, this.superblock.blockSize);
  }

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
    const max = maxFileSize(sb.blockSize, (inode.flags & INODE_FLAGS.extents) !== 0);
    if (inode.size > max) {
      throw new LcowError('EBADIMAGE', `inode ${ino}: i_size ${inode.size} is past the volume's maximum file size ${max}`, { inode: ino, size: inode.size });
    }
    this.inodes.set(ino, inode);
    return inode;
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

  /** The inode's logical -> physical map (extents or block map). */
  private async runs(inode: Inode, path: string): Promise<MappedRun[]> {
    const hit = this.maps.get(inode.ino);
    if (hit) return hit;
    const sb = this.superblock;
    const fileBlocks = Math.ceil(inode.size / sb.blockSize);
    let runs: MappedRun[];
    try {
      runs =
        inode.flags & INODE_FLAGS.extents
          ? await readExtentTree(inode.iBlock, this.readBlock, sb.blocksCount, inode.ino)
          : await readBlockMap(inode.iBlock, this.readBlock, sb.blockSize, sb.blocksCount, fileBlocks, inode.ino);
    } catch (err) {
      if (isLcowError(err)) throw new LcowError(err.code, `${path}: ${err.message}`, { ...err.context, path }, { cause: err });
      throw err;
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

  /** A symlink's target: 1 to 64 KiB bytes without NUL, as symlink(2) makes them; anything else is EBADIMAGE. */
  private async symlinkTarget(inode: Inode, path: string): Promise<Buffer> {
    if (inode.size === 0 || inode.size > MAX_SYMLINK_BYTES) throw new LcowError('EBADIMAGE', `${path}: symlink of ${inode.size} bytes`, { path });
    const bs = this.superblock.blockSize;
    const dataBlocks = blocks512(inode, bs) - (inode.fileAcl ? bs / 512 : 0);
    // A fast symlink keeps its target in i_block and owns no data block.
    const target =
      inode.flags & INODE_FLAGS.inline_data
        ? await this.inlineData(inode)
        : inode.size < 60 && dataBlocks <= 0
          ? inode.iBlock.subarray(0, inode.size)
          : await this.readData(inode, 0, inode.size, path);
    if (target.includes(0)) throw new LcowError('EBADIMAGE', `${path}: symlink target holds a NUL byte`, { path });
    return target;
  }

  // ---- directories ------------------------------------------------------

  /** Every entry of a directory, '.' and '..' first, as stored; more than a walk may hold (with what `budget` holds already) is ETOOBIG. */
  private async readDirectory(ino: number, where: string, budget?: WalkBudget): Promise<DecodedDirEntry[]> {
    const inode = await this.inode(ino);
    this.expectKind(inode, 'dir', where);
    if (inode.flags & INODE_FLAGS.inline_data) {
      const x = (await this.rawXattrs(inode)).find((a) => a.name === 'system.data');
      return decodeInlineDirectory(inode.iBlock, x?.value, this.hasFileType, ino);
    }
    if (inode.size > MAX_DIR_BYTES) throw new LcowError('EBADIMAGE', `directory ${where} claims ${inode.size} bytes`, { path: where });
    const list: DecodedDirEntry[] = [];
    const bs = this.superblock.blockSize;
    const fileBlocks = Math.ceil(inode.size / bs);
    const runs = await this.runs(inode, where);
    budget?.claim(ino, runs);
    const holding = budget ?? new WalkBudget();
    for (const r of runs) {
      if (r.uninit) continue;
      for (let k = 0; k < r.length && r.logical + k < fileBlocks; k++) {
        decodeDirectoryBlock(await this.readBlock(r.physical + k), this.hasFileType, ino, list);
        holding.checkHold(list.length, where);
      }
    }
    return list;
  }

  /** A directory as a name map, for lookups (cached). */
  private async dirMap(ino: number, dirPath: ByteString, forPath: ByteString): Promise<Map<ByteString, DecodedDirEntry>> {
    const hit = this.dirs.get(ino);
    if (hit) return hit;
    const inode = await this.inode(ino);
    if (kindOfMode(inode.mode) !== 'dir') {
      throw new LcowError('ENOTFOUND', `${bytesToText(forPath)}: ${bytesToText(dirPath)} is not a directory`, { path: bytesToText(forPath) });
    }
    const map = new Map<ByteString, DecodedDirEntry>();
    for (const e of await this.readDirectory(ino, bytesToText(dirPath))) {
      if (map.has(e.name)) throw duplicateName(bytesToText(dirPath), e.name, ino);
      map.set(e.name, e);
    }
    this.dirs.set(ino, map);
    return map;
  }

  // ---- xattrs -----------------------------------------------------------

  private async rawXattrs(inode: Inode): Promise<RawXattr[]> {
    const out = decodeInodeXattrs(inode.xattrArea, inode.ino);
    if (inode.fileAcl !== 0) out.push(...decodeXattrBlock(await this.readBlock(inode.fileAcl), inode.ino));
    return out;
  }

  /** ea_inode feature: a large value lives in the data of its own inode, which carries the EA_INODE flag and the value's size. */
  private async eaInodeValue(x: RawXattr, owner: number): Promise<Buffer> {
    const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `inode ${owner}: xattr ${x.name}: ${why}`, { inode: owner });
    if (x.valueInode === owner) throw bad('its value inode is the inode itself');
    const ea = await this.inode(x.valueInode);
    if (!(ea.flags & INODE_FLAGS.ea_inode) || kindOfMode(ea.mode) !== 'file') throw bad(`inode ${x.valueInode} is not a value inode`);
    if (ea.size !== x.valueSize) throw bad(`value inode ${x.valueInode} holds ${ea.size} bytes, the entry says ${x.valueSize}`);
    return this.readData(ea, 0, x.valueSize, `<xattr ${x.name} of inode ${owner}>`);
  }
}

function duplicateName(dir: string, name: ByteString, ino: number): LcowError {
  return new LcowError('EBADIMAGE', `directory ${dir} holds '${bytesToText(name)}' twice`, { path: dir, inode: ino });
}
