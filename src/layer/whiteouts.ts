/**
 * OCI/AUFS whiteout names (image-spec "Whiteouts") → overlay entries, as a
 * transform of the tar entry stream (moby's ConvertWhiteout):
 *   dir/.wh.NAME        → NAME is deleted in lower layers: a whiteout entry
 *   dir/.wh..wh..opq    → dir is opaque (lower contents hidden): an opaque marker
 *   dir/.wh..wh.<other> → AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): dropped
 * The overlay forms on disk (char 0:0, trusted.overlay.opaque=y) are the ext4
 * writer's. This is layer semantics, not tar: the tar reader knows no names.
 */
import { LcowError } from '../errors.js';
import type { LayerEntry } from '../ext4/index.js';
import type { TarEntry } from '../tar/index.js';

const PREFIX = '.wh.';
const META_PREFIX = '.wh..wh.';
const OPAQUE = '.wh..wh..opq';

export type WhiteoutKind =
  { kind: 'none' } | { kind: 'whiteout'; path: string } | { kind: 'opaque'; path: string } | { kind: 'aufs-meta' } | { kind: 'invalid' };

/** Shared: the answer for almost every entry, without an object per call. */
const NONE: WhiteoutKind = Object.freeze({ kind: 'none' });

export function classifyWhiteout(cleanPath: string): WhiteoutKind {
  const slash = cleanPath.lastIndexOf('/');
  if (!cleanPath.startsWith(PREFIX, slash + 1)) return NONE;
  const base = cleanPath.slice(slash + 1);
  const dir = slash === -1 ? '' : cleanPath.slice(0, slash);
  if (base === OPAQUE) return { kind: 'opaque', path: dir };
  if (base.startsWith(META_PREFIX)) return { kind: 'aufs-meta' };
  const hidden = base.slice(PREFIX.length);
  // '.wh.' alone, or hiding '.' / '..', names nothing.
  if (hidden === '' || hidden === '.' || hidden === '..') return { kind: 'invalid' };
  return { kind: 'whiteout', path: dir === '' ? hidden : `${dir}/${hidden}` };
}

/**
 * Entries with `.wh.` names stop being files. A whiteout's body, if it has
 * one, is left unread: the tar reader skips it before the next entry.
 */
/**
 * One tar entry as the layer entry it stands for: itself, an overlay whiteout
 * or opaque marker, or undefined for AUFS bookkeeping (dropped; its body is
 * skipped by the reader). Synchronous, so that the converter takes an OCI
 * layer's entries without an await each (layer/convert.ts; an async
 * generator between reader and writer cost ~10,000 awaits, promises and
 * iterator results on the edge-case layer: issue 11, round 8).
 */
export function whiteoutEntry(entry: TarEntry): LayerEntry | undefined {
  const w = entry.path === '' ? NONE : classifyWhiteout(entry.path);
  switch (w.kind) {
    case 'none':
      return entry;
    case 'whiteout':
      return { kind: 'whiteout', path: w.path, tarName: entry.tarName, meta: entry.meta };
    case 'opaque':
      return { kind: 'opaque', path: w.path, tarName: entry.tarName };
    case 'aufs-meta':
      return undefined;
    case 'invalid':
      throw new LcowError('EBADTAR', `whiteout '${entry.tarName}' names nothing`, { entry: entry.tarName });
  }
}

/** whiteoutEntry over a stream of entries. */
export async function* convertWhiteouts(entries: AsyncIterable<TarEntry>): AsyncGenerator<LayerEntry> {
  for await (const entry of entries) {
    const converted = whiteoutEntry(entry);
    if (converted !== undefined) yield converted;
  }
}
