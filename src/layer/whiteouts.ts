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

export function classifyWhiteout(cleanPath: string): WhiteoutKind {
  const slash = cleanPath.lastIndexOf('/');
  const base = cleanPath.slice(slash + 1);
  if (!base.startsWith(PREFIX)) return { kind: 'none' };
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
export async function* convertWhiteouts(entries: AsyncIterable<TarEntry>): AsyncGenerator<LayerEntry> {
  for await (const entry of entries) {
    const w = entry.path === '' ? ({ kind: 'none' } as const) : classifyWhiteout(entry.path);
    switch (w.kind) {
      case 'none':
        yield entry;
        break;
      case 'whiteout':
        yield { kind: 'whiteout', path: w.path, tarName: entry.tarName, meta: entry.meta };
        break;
      case 'opaque':
        yield { kind: 'opaque', path: w.path, tarName: entry.tarName };
        break;
      case 'aufs-meta':
        break;
      case 'invalid':
        throw new LcowError('EBADTAR', `whiteout '${entry.tarName}' names nothing`, { entry: entry.tarName });
    }
  }
}
