/**
 * The normalised layer entry the ext4 writer takes. Everything tar-specific
 * (PAX, GNU long names, sparse maps, whiteout names, path cleaning) is
 * resolved before an entry reaches this shape, so the writer never sees a
 * tar header; src/tar's entries fit it as they are, and src/layer adds the
 * whiteouts and opaque markers.
 */

import type { Timestamp } from '../format/timestamps.js';

export type { Timestamp };

export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'socket' | 'whiteout';

export interface EntryMeta {
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  /** Creation time; the writer uses mtime when there is none (tar has none). */
  crtime?: Timestamp;
  /** Extended attributes (from PAX SCHILY.xattr.*), name → raw bytes. Order preserved. */
  xattrs: Map<string, Buffer>;
}

/** One data region of a sparse file: `length` bytes at `offset`; everything else is a hole. */
export interface SparseRegion {
  offset: number;
  length: number;
}

export interface LayerEntryBase {
  /** Clean relative path, '/'-separated, no leading '/', no '.' or '..' parts; '' is the root. */
  path: string;
  /** Name of the tar entry as it was in the archive (for error messages). */
  tarName: string;
  meta: EntryMeta;
}

export interface FileEntry extends LayerEntryBase {
  kind: 'file';
  /** Logical file size (for sparse files: the real size, holes included). */
  size: number;
  /**
   * Data regions when the file is sparse, in ascending offset order; absent
   * for an ordinary file. The body carries the regions' bytes back to back.
   */
  sparse?: SparseRegion[];
  /**
   * The file's bytes (regions only, when sparse). Must be fully consumed.
   * `takeAllNow`, when the source has it: all of the body if it is already
   * in memory (consumed then), else undefined with nothing consumed — the
   * writer then adds a small file without an await (Ext4Writer.tryAdd).
   */
  body: AsyncIterable<Buffer> & { takeAllNow?(): Buffer | undefined };
}

export interface DirEntry extends LayerEntryBase {
  kind: 'dir';
  /** `.wh..wh..opq` seen for this directory (whiteout conversion on). */
  opaque?: boolean;
}

export interface SymlinkEntry extends LayerEntryBase {
  kind: 'symlink';
  target: string;
}

export interface HardlinkEntry extends LayerEntryBase {
  kind: 'hardlink';
  /** Clean relative path of the existing entry this one links to. */
  target: string;
}

export interface DeviceEntry extends LayerEntryBase {
  kind: 'char' | 'block';
  major: number;
  minor: number;
}

export interface FifoEntry extends LayerEntryBase {
  kind: 'fifo' | 'socket';
}

/** An overlay whiteout: becomes a char device 0:0 named for the hidden path. */
export interface WhiteoutEntry extends LayerEntryBase {
  kind: 'whiteout';
}

/** Marks an existing (or implicit) directory opaque: trusted.overlay.opaque=y. */
export interface OpaqueMarker {
  kind: 'opaque';
  /** The directory that is opaque. */
  path: string;
  tarName: string;
}

export type LayerEntry = FileEntry | DirEntry | SymlinkEntry | HardlinkEntry | DeviceEntry | FifoEntry | WhiteoutEntry | OpaqueMarker;
