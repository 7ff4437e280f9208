/**
 * DiffGetter on the host: moby's FileGetCloser, which an engine uses to
 * re-assemble a layer tar from tar-split metadata when pushing. moby's LCOW
 * driver ran `cat` in a service VM for every file; this reads the image.
 *
 * `get` takes a path in the layer ('etc/passwd' or '/etc/passwd'); a path
 * that is missing, hidden by a whiteout or not a regular file →
 * LcowError('ENOTFOUND'). The image stays open until close().
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LcowError } from '../../errors.js';
import { openDiffSource, type DiffSource, type SourceOptions } from './source.js';

export interface FileGetCloser {
  get(path: string): Promise<Readable>;
  close(): Promise<void>;
}

export async function diffGetter(layerPath: string, options: SourceOptions = {}): Promise<FileGetCloser> {
  let source: DiffSource | undefined = await openDiffSource(layerPath, options);
  return {
    async get(p: string): Promise<Readable> {
      if (!source) throw new LcowError('EINVAL', 'diff getter already closed', { file: layerPath, path: p });
      // Clean against '/' so '..' cannot leave the layer (a sandbox's upper dir).
      const clean = path.posix.normalize('/' + p);
      const stat = clean === '/' ? null : await source.stat(clean);
      if (!stat || stat.kind !== 'file') {
        throw new LcowError('ENOTFOUND', `no regular file ${clean} in the layer`, { file: layerPath, path: clean, kind: stat?.kind });
      }
      return source.fs.createReadStream(source.imagePath(clean));
    },
    async close(): Promise<void> {
      const s = source;
      source = undefined;
      await s?.close();
    },
  };
}
