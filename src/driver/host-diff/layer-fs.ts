/**
 * The read-only file-system view that host-side diff, changes and diffSize
 * work on. It is deliberately tiny (what a tar writer and a whiteout-aware
 * comparison need) so that the ext4 reader plugs in through one adapter
 * (`ext4-layer-fs.ts`) and tests can hand in fakes.
 *
 * Paths are absolute inside the image: '/', '/etc', '/etc/passwd'.
 */
import type { Readable } from 'node:stream';
import type { Ext4Stat } from '../../ext4/index.js';

export type LayerFileKind = Ext4Stat['kind'];

/** The lstat fields the diff needs: the reader's stat, narrowed so fakes stay small. */
export type LayerStat = Pick<Ext4Stat, 'kind' | 'mode' | 'uid' | 'gid' | 'size' | 'nlink' | 'inode' | 'atime' | 'mtime' | 'ctime' | 'rdevMajor' | 'rdevMinor'>;

export interface LayerFs {
  /** lstat; null when the path does not exist (or a parent is not a directory). */
  stat(path: string): Promise<LayerStat | null>;
  /** Names in the directory, without '.' and '..', sorted by byte order. */
  readdir(path: string): Promise<string[]>;
  readlink(path: string): Promise<string>;
  /** Every extended attribute, full name ('trusted.overlay.opaque') → raw value. */
  listXattrs(path: string): Promise<Map<string, Buffer>>;
  /** A regular file's bytes (holes read as zeros). */
  createReadStream(path: string): Readable;
  close(): Promise<void>;
}

/** Join an absolute directory and a name. */
export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Byte-order comparison of names (what sorted tar output and moby's changes use). */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
