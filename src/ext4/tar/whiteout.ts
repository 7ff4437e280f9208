/**
 * OCI/AUFS whiteout names (image-spec "Whiteouts"):
 *   dir/.wh.NAME        → NAME is deleted in lower layers
 *   dir/.wh..wh..opq    → dir is opaque (lower contents hidden)
 *   dir/.wh..wh.<other> → AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): dropped
 * The overlay forms (char 0:0, trusted.overlay.opaque) are the writer's job;
 * this only classifies a clean path.
 */

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
