/**
 * The adapter from the project's ext4 reader (src/ext4/reader/) to LayerFs.
 * openExt4Image (src/layer) opens raw ext4, fixed VHD (footer) and VHDX
 * files alike, so a layer.vhd and a sandbox.vhdx open the same way.
 */
import { openExt4Image } from '../../layer/index.js';
import type { LayerFs } from './layer-fs.js';

export async function openExt4LayerFs(imageFile: string): Promise<LayerFs> {
  const img = await openExt4Image(imageFile);
  return {
    stat: async (p) => (await img.tryStat(p)) ?? null,
    readdir: async (p) => (await img.readdir(p)).map((e) => e.name),
    readlink: (p) => img.readlink(p),
    listXattrs: (p) => img.listXattrs(p),
    createReadStream: (p) => img.createReadStream(p),
    close: () => img.close(),
  };
}
