/**
 * The adapter from the project's ext4 reader (src/ext4/reader/) to LayerFs.
 * openExt4Image (src/layer) opens raw ext4, fixed VHD (footer) and VHDX
 * files alike, so a layer.vhd and a sandbox.vhdx open the same way.
 *
 * One LayerFs is one walk's budget (see the reader's walk-budget.ts): each
 * directory listed once, each directory and data block claimed once.
 */
import { isLcowError } from '../../errors.js';
import type { Ext4Image, HeldEntries } from '../../ext4/index.js';
import { openExt4Image } from '../../layer/index.js';
import type { LayerFs } from './layer-fs.js';

export async function openExt4LayerFs(imageFile: string, held?: HeldEntries): Promise<LayerFs> {
  return ext4LayerFs(await openExt4Image(imageFile), held);
}

/** The LayerFs over an open image; close() closes the image. `held`: the entries cap shared with the other images of one operation. */
export function ext4LayerFs(img: Ext4Image, held?: HeldEntries): LayerFs {
  const budget = img.newBudget(held);
  return {
    lookup: async (p) => {
      try {
        return await img.statInode(await img.lookupBytes(p));
      } catch (err) {
        if (isLcowError(err, 'ENOTFOUND')) return null;
        throw err;
      }
    },
    stat: (ref) => img.statInode(ref.inode),
    list: (ref) => img.listDirectory(ref.inode, budget, ref.path),
    done: (listing) => budget.release(listing.length),
    isEmptyDir: async (ref) => (await img.listDirectory(ref.inode, undefined, ref.path)).length === 0,
    readlink: (ref) => img.readlinkInode(ref.inode),
    listXattrs: (ref) => img.xattrsOfInode(ref.inode),
    dataRegions: (ref) => img.dataRegions(ref.inode, budget),
    readRegions: (ref, regions) => img.readRegions(ref.inode, regions),
    createReadStream: (ref) => img.streamInode(ref.inode),
    close: () => img.close(),
  };
}
