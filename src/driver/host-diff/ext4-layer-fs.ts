/**
 * The adapter from the project's ext4 reader (src/ext4/reader/) to LayerFs.
 * It reads raw ext4, fixed VHD (footer) and VHDX files, so layer.vhd and
 * sandbox.vhdx open the same way.
 *
 *   openExt4LayerFs(imageFile: string): Promise<LayerFs>
 */
import { LcowError } from '../../errors.js';
import type { LayerFs } from './layer-fs.js';

export async function openExt4LayerFs(imageFile: string): Promise<LayerFs> {
  throw new LcowError('EUNSUPPORTED', 'the ext4 reader is not integrated yet', { file: imageFile });
}
