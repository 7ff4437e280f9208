/**
 * The read-only file-system view that host-side diff, changes, diffSize and
 * diffGetter work on. Deliberately small — what a tar writer and a
 * whiteout-aware comparison need — so that the ext4 reader plugs in through
 * one adapter (`ext4-layer-fs.ts`) and tests can hand in fakes, the kernel's
 * view of a loop mount among them.
 *
 * Walks name objects by reference: the image path (bytes) and the inode
 * number, and each LayerFs uses what identifies an object for it. The ext4
 * reader uses the inode, so a walk never looks a path up again: that
 * lookup per entry is what made a 1,000-level tree cost the square of its
 * depth.
 */
import type { Readable } from 'node:stream';
import type { ByteString } from '../../byte-names.js';
import type { DataRegion, Ext4Stat } from '../../ext4/index.js';

export type LayerFileKind = Ext4Stat['kind'];

/** The lstat fields the diff needs: the reader's stat, narrowed so fakes stay small. */
export type LayerStat = Pick<Ext4Stat, 'kind' | 'mode' | 'uid' | 'gid' | 'size' | 'nlink' | 'inode' | 'atime' | 'mtime' | 'ctime' | 'rdevMajor' | 'rdevMinor'>;

/** An object in the image: its absolute path there ('/', '/upper/etc') and its inode number. */
export interface LayerRef {
  path: ByteString;
  inode: number;
}

/** One directory entry: its name's bytes and its inode number. */
export interface LayerDirent {
  name: ByteString;
  ino: number;
}

export interface LayerFs {
  /** lstat of an absolute path; null when it does not exist (or a parent is not a directory). */
  lookup(path: ByteString): Promise<LayerStat | null>;
  /** lstat of an object a listing named. */
  stat(ref: LayerRef): Promise<LayerStat>;
  /**
   * A directory's entries without '.' and '..', sorted by name bytes. Each
   * directory is listed at most once per LayerFs: listing one again may be
   * EBADIMAGE (in an ext4 image that is a cycle or a hard-linked directory),
   * and listings not yet done() may be capped (ETOOBIG).
   */
  list(dir: LayerRef): Promise<LayerDirent[]>;
  /** The walk is done with a listing `list` gave (it counts against the entries a walk may hold at once). */
  done(listing: LayerDirent[]): void;
  /** Whether a directory has no entries; does not count as its listing. */
  isEmptyDir(dir: LayerRef): Promise<boolean>;
  /** A symlink's target bytes. */
  readlink(ref: LayerRef): Promise<Buffer>;
  /** Every extended attribute, full name ('trusted.overlay.opaque') → raw value. */
  listXattrs(ref: LayerRef): Promise<Map<string, Buffer>>;
  /** Where a regular file of `size` bytes holds data, ascending; the rest reads as zeros. Once per file per LayerFs. */
  dataRegions(ref: LayerRef, size: number): Promise<DataRegion[]>;
  /** The bytes of `regions` of a regular file, back to back. */
  readRegions(ref: LayerRef, regions: readonly DataRegion[]): AsyncIterable<Buffer>;
  /** A regular file's whole content (holes as zeros). */
  createReadStream(ref: LayerRef): Readable;
  close(): Promise<void>;
}
