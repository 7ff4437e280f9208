/**
 * What the reader hands out: one archive member with everything tar-specific
 * resolved (PAX records, GNU long names, sparse maps, the ustar prefix, path
 * cleaning), so a consumer never sees a header. The metadata headers that
 * carry those (x, g, L, K, V) are never entries themselves.
 */

/** Seconds since the epoch (may be negative, may exceed 2^31) plus nanoseconds. */
export interface Timestamp {
  sec: number;
  nsec: number;
}

export interface TarEntryMeta {
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /**
   * Shared, frozen, between consecutive members with the same header time
   * (and the same object as atime and ctime when the archive has none of
   * those): read it, copy it to change it.
   */
  mtime: Timestamp;
  /** From PAX or an old-GNU header; the mtime when the archive has none. */
  atime: Timestamp;
  ctime: Timestamp;
  /**
   * PAX SCHILY.xattr.* / LIBARCHIVE.xattr.*, name → raw bytes, in archive
   * order. From the reader, a member without xattrs shares one empty map that
   * throws on a change (`NO_XATTRS`): copy it to change it.
   */
  xattrs: Map<string, Buffer>;
}

/** One data region of a sparse file: `length` bytes at `offset`; everything else is a hole. */
export interface SparseRegion {
  offset: number;
  length: number;
}

interface TarEntryBase {
  /** Clean relative path, '/'-separated, no leading '/', no '.' or '..' parts; '' is the root. */
  path: string;
  /** The member's name as the archive spells it (for messages). */
  tarName: string;
  meta: TarEntryMeta;
}

/** A member's bytes, as slices of the input (valid until the next pull: copy what you keep). */
export interface TarFileBody extends AsyncIterable<Buffer> {
  /**
   * All of what is left of the body when it is already in memory (then it is
   * consumed), else undefined and nothing is consumed: lets a consumer take
   * a small file without an await (the reader's own bodies always have it).
   */
  takeAllNow?(): Buffer | undefined;
}

export interface TarFileEntry extends TarEntryBase {
  kind: 'file';
  /** Logical size (for a sparse file: the real size, holes included). */
  size: number;
  /** Data regions of a sparse file, ascending; absent for an ordinary file. The body is their bytes back to back. */
  sparse?: SparseRegion[];
  /** The bytes (regions only, when sparse). Read it, or leave it: the next entry skips what is left. */
  body: TarFileBody;
  /** Where the body starts in the (uncompressed) archive: after the header, PAX data and any sparse map. */
  dataOffset: number;
}

export interface TarDirEntry extends TarEntryBase {
  kind: 'dir';
}

export interface TarSymlinkEntry extends TarEntryBase {
  kind: 'symlink';
  /** As stored: not cleaned, may be absolute or climb out (a symlink is resolved where it lands). */
  target: string;
}

export interface TarHardlinkEntry extends TarEntryBase {
  kind: 'hardlink';
  /** Clean relative path of the earlier member this one links to. */
  target: string;
}

export interface TarDeviceEntry extends TarEntryBase {
  kind: 'char' | 'block';
  major: number;
  minor: number;
}

export interface TarFifoEntry extends TarEntryBase {
  kind: 'fifo';
}

export type TarEntry = TarFileEntry | TarDirEntry | TarSymlinkEntry | TarHardlinkEntry | TarDeviceEntry | TarFifoEntry;
export type TarEntryKind = TarEntry['kind'];
