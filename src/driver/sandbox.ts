/**
 * Sandboxes (a container's read-write `sandbox.vhdx`) made on the host, with
 * no VM: an empty ext4 laid out in memory as a SparseImage and written into
 * a dynamic VHDX that allocates only the blocks holding metadata. moby and
 * hcsshim instead attached a blank VHDX to a service VM and ran mkfs.ext4.
 *
 * Making one and copying the template are both atomic: the file appears complete under its final name or not at
 * all (the VHDX writer writes to a temporary name and renames; the copy does
 * the same). An existing destination is replaced.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { LcowError, hostFsError } from '../errors.js';
import { formatEmptyExt4 } from '../ext4/index.js';
import { componentLogger, type Logger } from '../log.js';
import { createVhdx } from '../vhd/index.js';

export interface SandboxOptions {
  logger?: Logger;
}

const GiB = 2 ** 30;

export async function createSandbox(file: string, sizeGB: number, options: SandboxOptions = {}): Promise<void> {
  if (!Number.isInteger(sizeGB) || sizeGB < 1) {
    throw new LcowError('EINVAL', `sandbox size must be a whole number of GB ≥ 1, not ${sizeGB}`, { file, sizeGB });
  }
  const log = componentLogger(options.logger, 'sandbox', { file });
  const image = formatEmptyExt4(sizeGB * GiB);
  const result = await createVhdx(file, image);
  log.info({ sizeGB, fileSize: result.fileSize, allocatedBlocks: result.allocatedBlocks }, 'sandbox created');
}

/**
 * Copy the cached template sandbox (the default size is made once and
 * copied, as moby did). A reflink clone where the file system can
 * (btrfs, XFS, ReFS block cloning), else a byte copy.
 */
export async function copySandboxTemplate(templatePath: string, dest: string): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    try {
      // COPYFILE_FICLONE already falls back to copying when cloning is unsupported;
      // the retry covers file systems that report odd errors for the clone attempt.
      await fs.copyFile(templatePath, tmp, fsConstants.COPYFILE_FICLONE | fsConstants.COPYFILE_EXCL);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
      await fs.rm(tmp, { force: true });
      await fs.copyFile(templatePath, tmp, fsConstants.COPYFILE_EXCL);
    }
    await fs.rename(tmp, dest);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw hostFsError(err, `cannot copy the sandbox template ${templatePath} to ${dest}`, { templatePath, dest });
  }
}
