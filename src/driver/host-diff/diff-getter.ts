/**
 * DiffGetter on the host: moby's FileGetCloser, which an engine uses to
 * re-assemble a layer tar from tar-split metadata when pushing. moby's LCOW
 * driver ran `cat` in a service VM for every file; this reads the image.
 *
 * `get` takes a path in the layer ('etc/passwd' or '/etc/passwd'; text, or
 * a Buffer of the name's exact bytes); a path that is missing, hidden by a
 * whiteout or not a regular file → LcowError('ENOTFOUND'). The image stays
 * open until close().
 */
import type { Readable } from 'node:stream';
import { LcowError } from '../../errors.js';
import { byteStringOf, bytesToText, normaliseBytePath, textToBytes } from '../../byte-names.js';
import { openDiffSource, type DiffSource, type SourceOptions } from './source.js';

export interface FileGetCloser {
  get(path: string | Buffer): Promise<Readable>;
  close(): Promise<void>;
}

export async function diffGetter(layerPath: string, options: SourceOptions = {}): Promise<FileGetCloser> {
  let source: DiffSource | undefined = await openDiffSource(layerPath, options);
  return {
    async get(p: string | Buffer): Promise<Readable> {
      // Cleaned against '/', so '..' cannot leave the layer (a sandbox's upper dir).
      const clean = normaliseBytePath(typeof p === 'string' ? textToBytes(p) : byteStringOf(p));
      const shown = bytesToText(clean);
      if (!source) throw new LcowError('EINVAL', 'diff getter already closed', { file: layerPath, path: shown });
      const stat = clean === '/' ? null : await source.lookup(clean);
      if (!stat || stat.kind !== 'file') {
        throw new LcowError('ENOTFOUND', `no regular file ${shown} in the layer`, { file: layerPath, path: shown, kind: stat?.kind });
      }
      return source.fs.createReadStream(source.ref(clean, stat.inode));
    },
    async close(): Promise<void> {
      const s = source;
      source = undefined;
      await s?.close();
    },
  };
}
