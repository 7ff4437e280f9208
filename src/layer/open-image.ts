/**
 * Open an ext4 image whatever holds it: a raw image, a fixed VHD (a
 * layer.vhd) or a dynamic VHDX (a sandbox.vhdx), told apart by vhd's block
 * source. Here rather than in ext4 or vhd because it needs both.
 */
import { LcowError, isLcowError } from '../errors.js';
import { Ext4Image, type Ext4BlockSource } from '../ext4/index.js';
import { CachedBlockSource, openBlockSource } from '../vhd/index.js';

/** A path (the container detected; closed with the image) or a source you keep owning (read through a cache). */
export async function openExt4Image(pathOrSource: string | Ext4BlockSource): Promise<Ext4Image> {
  if (typeof pathOrSource === 'string') {
    const src = await openBlockSource(pathOrSource);
    try {
      return await Ext4Image.open(src, true);
    } catch (err) {
      await src.close().catch(() => undefined);
      if (isLcowError(err)) throw new LcowError(err.code, err.message, { ...err.context, file: pathOrSource }, { cause: err.cause });
      throw err;
    }
  }
  return Ext4Image.open(new CachedBlockSource(pathOrSource), false);
}
