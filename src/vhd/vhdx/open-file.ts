/**
 * Open an image file read-only, mapping the OS error to a typed one
 * (ENOENT → ENOTFOUND, anything else → EIO). Shared by the VHDX reader and
 * the block-source detector.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { LcowError } from '../../errors.js';

export async function openImageFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ENOTFOUND' : 'EIO';
    throw new LcowError(code, `cannot open image ${path}`, { file: path }, { cause: err });
  }
}
