/**
 * The one thing uvm/ asks of the host file system: how big a layer file is
 * (to decide whether it fits a VPMEM device). Injected so that tests with the
 * fake backend need no real files.
 */
import { stat } from 'node:fs/promises';
import { LcowError, asError } from '../errors.js';

export interface HostFiles {
  size(hostPath: string): Promise<number>;
}

export const nodeHostFiles: HostFiles = {
  async size(hostPath) {
    try {
      return (await stat(hostPath)).size;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new LcowError(code === 'ENOENT' ? 'ENOTFOUND' : 'EIO', `cannot stat ${hostPath}`, { hostPath }, { cause: asError(err) });
    }
  },
};
