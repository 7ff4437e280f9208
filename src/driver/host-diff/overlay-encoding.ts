/**
 * How overlayfs encodes deletions on disk, and the tar (AUFS-style) names
 * that carry them in a layer diff — the same conversion moby's
 * `overlayWhiteoutConverter` does:
 *
 *   char device 0:0 named NAME          ⇄  empty regular file `.wh.NAME`
 *   dir with trusted.overlay.opaque=y   ⇄  empty regular file `DIR/.wh..wh..opq`
 *
 * Other `trusted.overlay.*` attributes (origin, impure, redirect, nlink, …)
 * are bookkeeping of one overlay mount and mean nothing in another, so they
 * never leave the host.
 */
import { LcowError } from '../../errors.js';
import type { LayerFs, LayerRef, LayerStat } from './layer-fs.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
export const OPAQUE_XATTR = 'trusted.overlay.opaque';
const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';

/** An overlay whiteout: a character device with device number 0:0. */
export function isWhiteout(stat: LayerStat): boolean {
  return stat.kind === 'char' && stat.rdevMajor === 0 && stat.rdevMinor === 0;
}

/** 'y' marks an opaque directory ('x', since Linux 6.7, only means "contains xwhiteouts"). */
export function isOpaqueXattrs(xattrs: Map<string, Buffer>): boolean {
  const v = xattrs.get(OPAQUE_XATTR);
  return v !== undefined && v.length >= 1 && v[0] === 0x79 /* 'y' */ && (v.length === 1 || v[1] === 0);
}

export async function isOpaqueDir(fs: LayerFs, ref: LayerRef, stat: LayerStat): Promise<boolean> {
  return stat.kind === 'dir' && isOpaqueXattrs(await fs.listXattrs(ref));
}

/**
 * Upper-dir objects whose content lives elsewhere: `redirect` (a directory
 * renamed with redirect_dir=on: its children are found under another lower
 * path) and `metacopy` (metacopy=on: the data is still in the lower file).
 * Tarring them as they are would silently lose data, so they are refused;
 * the union mounts this project makes use neither option.
 */
const INDIRECT_XATTRS = ['trusted.overlay.redirect', 'trusted.overlay.metacopy'];

export function refuseIndirect(xattrs: Map<string, Buffer>, file: string, path: string): void {
  for (const name of INDIRECT_XATTRS) {
    if (xattrs.has(name)) {
      throw new LcowError(
        'EUNSUPPORTED',
        `${path} in ${file} carries ${name}: an overlay mounted with redirect_dir/metacopy cannot be diffed from its upper dir alone`,
        {
          file,
          path,
          xattr: name,
        },
      );
    }
  }
}

/** The xattrs worth carrying in a tar: everything but overlay's private ones. */
export function portableXattrs(xattrs: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of xattrs) if (!k.startsWith(OVERLAY_XATTR_PREFIX)) out.set(k, v);
  return out;
}

/**
 * `lost+found` at the root of an image, empty and root-owned, is made by the
 * ext4 formatter, not by the layer's author: it is not part of the diff.
 * `layerPath` is where it is in the layer, `ref` where it is in the image
 * (a sandbox's upper dir is not the image root, so its lost+found is the
 * author's).
 */
export async function isFormatArtefact(fs: LayerFs, ref: LayerRef, layerPath: string, stat: LayerStat): Promise<boolean> {
  return layerPath === '/lost+found' && ref.path === '/lost+found' && stat.kind === 'dir' && stat.uid === 0 && stat.gid === 0 && (await fs.isEmptyDir(ref));
}
