/**
 * Diff on the host: a layer image (or a sandbox's overlay upper dir) → the
 * layer tar an engine pushes, without a VM. moby's LCOW driver instead ran
 * `vhd2tar` / `exportSandbox` inside a service VM.
 *
 * Output: entries in sorted pre-order (a directory before its children),
 * names relative without './' (as docker writes layer tars), no root entry.
 * Overlay whiteouts → `.wh.NAME`; opaque dirs → `DIR/.wh..wh..opq` right after
 * DIR; `trusted.overlay.*` xattrs dropped; the second and later names of an
 * inode → hard-link entries to the first; sockets skipped (tar has no type
 * for them; moby skips them too). File bodies stream from the reader one
 * chunk at a time, so memory stays bounded by directory fan-out and the
 * table of multiply-linked inodes.
 */
import { Readable } from 'node:stream';
import { LcowError } from '../../errors.js';
import { componentLogger, type Logger } from '../../log.js';
import { compareNames, joinPath, type LayerStat } from './layer-fs.js';
import { isFormatArtefact, isOpaqueXattrs, isWhiteout, OPAQUE_MARKER, portableXattrs, refuseIndirect, WHITEOUT_PREFIX } from './overlay-encoding.js';
import { openDiffSource, type DiffSource, type SourceOptions } from './source.js';
import { encodeTarItem, END_OF_ARCHIVE, padding, type TarEntryKind, type TarItem } from '../../tar/index.js';

export interface TarOptions extends Omit<SourceOptions, 'kind'> {
  logger?: Logger;
}

export function layerToTar(layerPath: string, options: TarOptions = {}): Readable {
  return Readable.from(
    sourceTar(() => openDiffSource(layerPath, { ...options, kind: 'layer' }), options),
    { objectMode: false },
  );
}

export function sandboxToTar(sandboxPath: string, options: TarOptions = {}): Readable {
  return Readable.from(
    sourceTar(() => openDiffSource(sandboxPath, { ...options, kind: 'sandbox' }), options),
    { objectMode: false },
  );
}

async function* sourceTar(open: () => Promise<DiffSource>, options: TarOptions): AsyncGenerator<Buffer> {
  const src = await open();
  const log = componentLogger(options.logger, 'host-diff', { file: src.file });
  try {
    const root = await src.stat('/');
    // A sandbox whose container never wrote anything may have no upper dir yet.
    if (root?.kind === 'dir') yield* walkDir(src, '/', new Map(), log);
    else if (root) throw new LcowError('EBADIMAGE', `${src.root} in the image is not a directory`, { file: src.file, root: src.root });
    yield END_OF_ARCHIVE;
  } finally {
    await src.close();
  }
}

/** Sockets have no tar type (moby skips them too). */
function tarKind(kind: LayerStat['kind']): TarEntryKind | undefined {
  return kind === 'socket' ? undefined : kind;
}

async function* walkDir(src: DiffSource, dir: string, firstNameOfInode: Map<number, string>, log: Logger): AsyncGenerator<Buffer> {
  const names = [...(await src.fs.readdir(src.imagePath(dir)))].sort(compareNames);
  for (const name of names) {
    const path = joinPath(dir, name);
    const imagePath = src.imagePath(path);
    const stat = await src.fs.stat(imagePath);
    if (!stat) continue;
    const rel = path.slice(1);
    if (await isFormatArtefact(src.fs, imagePath, path, stat)) continue;

    if (isWhiteout(stat)) {
      // moby: "we just rename the file and make it normal" (mode 0600, no body).
      const parent = dir === '/' ? '' : dir.slice(1) + '/';
      yield encodeTarItem({ name: parent + WHITEOUT_PREFIX + name, type: 'file', mode: 0o600, uid: stat.uid, gid: stat.gid, size: 0, mtime: stat.mtime });
      continue;
    }
    const type = tarKind(stat.kind);
    if (!type) {
      log.warn({ path }, 'skipping a socket: tar cannot represent it');
      continue;
    }
    const allXattrs = await src.fs.listXattrs(imagePath);
    refuseIndirect(allXattrs, src.file, path);
    const item: TarItem = {
      name: rel,
      type,
      mode: stat.mode,
      uid: stat.uid,
      gid: stat.gid,
      size: 0,
      mtime: stat.mtime,
      xattrs: portableXattrs(allXattrs),
    };

    if (stat.kind !== 'dir' && stat.nlink > 1) {
      const first = firstNameOfInode.get(stat.inode);
      if (first !== undefined) {
        // The inode's xattrs travel with its first name only, as GNU tar does.
        yield encodeTarItem({ ...item, type: 'hardlink', linkname: first, xattrs: undefined });
        continue;
      }
      firstNameOfInode.set(stat.inode, rel);
    }

    switch (stat.kind) {
      case 'file':
        yield encodeTarItem({ ...item, size: stat.size });
        yield* fileBody(src, imagePath, stat.size);
        break;
      case 'symlink':
        yield encodeTarItem({ ...item, linkname: await src.fs.readlink(imagePath) });
        break;
      case 'char':
      case 'block':
        yield encodeTarItem({ ...item, devmajor: stat.rdevMajor, devminor: stat.rdevMinor });
        break;
      case 'dir':
        yield encodeTarItem(item);
        if (isOpaqueXattrs(allXattrs)) {
          // moby's converter: a regular file inheriting the dir's owner, permissions and time.
          yield encodeTarItem({
            name: `${rel}/${OPAQUE_MARKER}`,
            type: 'file',
            mode: stat.mode & 0o777,
            uid: stat.uid,
            gid: stat.gid,
            size: 0,
            mtime: stat.mtime,
          });
        }
        yield* walkDir(src, path, firstNameOfInode, log);
        break;
      default:
        yield encodeTarItem(item);
    }
  }
}

async function* fileBody(src: DiffSource, imagePath: string, size: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of src.fs.createReadStream(imagePath) as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > size) break;
    yield chunk;
  }
  if (seen !== size) {
    throw new LcowError('EBADIMAGE', `file ${imagePath} yielded ${seen} bytes, its inode says ${size}`, { file: src.file, path: imagePath });
  }
  yield padding(size);
}
