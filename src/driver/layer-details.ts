/** Which image a layer directory holds: `layer.vhd` (read-only) or `sandbox.vhdx` (read-write). */
import { promises as fs } from 'node:fs';
import { LcowError } from '../errors.js';
import type { Layout } from './layout.js';

export interface LayerDetails {
  id: string;
  /** Host path of the image. */
  file: string;
  isSandbox: boolean;
  sizeBytes: number;
}

/** The layer's image, or undefined when the directory has none yet (created, not applied). ENOTFOUND without the directory. */
export async function findLayerImage(layout: Layout, id: string): Promise<LayerDetails | undefined> {
  for (const [file, isSandbox] of [
    [layout.layerFile(id), false],
    [layout.sandboxFile(id), true],
  ] as const) {
    try {
      const st = await fs.stat(file);
      return { id, file, isSandbox, sizeBytes: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new LcowError('EIO', `cannot stat ${file}`, { id, file }, { cause: err });
    }
  }
  try {
    await fs.stat(layout.dir(id));
  } catch {
    throw new LcowError('ENOTFOUND', `layer ${id} does not exist`, { id });
  }
  return undefined;
}

/** Like findLayerImage, but a layer without an image is ENOTFOUND too (naming what is missing). */
export async function layerImage(layout: Layout, id: string): Promise<LayerDetails> {
  const d = await findLayerImage(layout, id);
  if (!d) throw new LcowError('ENOTFOUND', `layer ${id} has no layer.vhd or sandbox.vhdx yet`, { id, dir: layout.dir(id) });
  return d;
}
