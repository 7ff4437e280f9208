/**
 * The one table of tar entry types: the typeflag of each kind of member the
 * writer emits, and the kind each typeflag the reader accepts becomes.
 * Metadata typeflags (PAX, GNU long names, volume labels) describe the next
 * header rather than a member; they are named here too so the reader and
 * the writer spell them one way.
 */
import type { TarEntryKind } from './entry.js';

/** The typeflag the writer uses for each entry kind. */
export const TYPEFLAG: Record<TarEntryKind, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

export const META_TYPEFLAG = {
  /** PAX extended header for the next member. */
  pax: 'x',
  /** Solaris' spelling of the same. */
  paxSolaris: 'X',
  /** PAX global header: defaults nothing in a layer needs (ignored). */
  paxGlobal: 'g',
  gnuLongName: 'L',
  gnuLongLink: 'K',
  gnuVolumeLabel: 'V',
} as const;

/** Old GNU sparse file: a regular file whose header carries the start of its sparse map. */
export const GNU_SPARSE = 'S';

/** The member kind of each typeflag the reader accepts (NUL is read as '0'). */
export const KIND_OF_TYPEFLAG: Readonly<Record<string, TarEntryKind>> = {
  '0': 'file',
  '7': 'file', // contiguous file: a plain file everywhere but on one 1980s system
  [GNU_SPARSE]: 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  D: 'dir', // GNU dumpdir: a directory whose data lists its contents (the data is skipped)
  '6': 'fifo',
};
