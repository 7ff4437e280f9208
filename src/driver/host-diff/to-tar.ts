/**
 * Diff on the host: a layer image (or a sandbox's overlay upper dir) → the
 * layer tar an engine pushes, without a VM. moby's LCOW driver instead ran
 * `vhd2tar` / `exportSandbox` inside a service VM.
 *
 * Output: entries in sorted pre-order (a directory before its children,
 * names in byte order), names relative without './' (as docker writes layer
 * tars) and exact bytes, no root entry. Overlay whiteouts → `.wh.NAME`;
 * opaque dirs → `DIR/.wh..wh..opq` right after DIR; `trusted.overlay.*`
 * xattrs dropped; the second and later names of an inode → hard-link
 * entries to the first; sockets skipped (tar has no type for them; moby
 * skips them too); files with holes as GNU sparse 1.0 entries.
 *
 * One loop over an explicit stack, whatever the depth. Memory: the listings
 * of the directories on the current path, one record per multiply-linked
 * inode seen until its last name, and the names (not paths) of the
 * directories those records point into. File bodies stream one chunk at a
 * time.
 */
import { Readable } from 'node:stream';
import { LcowError } from '../../errors.js';
import { bytesOf, bytesToText, joinBytePath, type ByteString } from '../../byte-names.js';
import type { DataRegion } from '../../ext4/index.js';
import { componentLogger, type Logger } from '../../log.js';
import { encodeTarItem, END_OF_ARCHIVE, MAX_SPARSE_REGIONS, padding, type TarEntryKind, type TarItem } from '../../tar/index.js';
import type { LayerDirent, LayerRef, LayerStat } from './layer-fs.js';
import { isFormatArtefact, isOpaqueXattrs, isWhiteout, OPAQUE_MARKER, portableXattrs, refuseIndirect, WHITEOUT_PREFIX } from './overlay-encoding.js';
import { Batch } from './batch.js';
import { HardLinks } from './hard-links.js';
import { fitRegions } from './regions.js';
import { openDiffSource, type DiffSource, type SourceOptions } from './source.js';

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
    const root = await src.lookup('/' as ByteString);
    // A sandbox whose container never wrote anything may have no upper dir yet.
    if (root?.kind === 'dir') yield* tarEntries(src, root, log);
    else if (root)
      throw new LcowError('EBADIMAGE', `${bytesToText(src.root)} in the image is not a directory`, { file: src.file, root: bytesToText(src.root) });
    yield END_OF_ARCHIVE;
  } finally {
    await src.close();
  }
}

/** A directory on the walk; the hard-link table points at these, so a remembered name costs the name, not its path. */
interface DirNode {
  parent: DirNode | undefined;
  name: ByteString;
}

interface Frame {
  dir: DirNode;
  /** The directory's layer path ('/', '/etc'). */
  path: ByteString;
  entries: LayerDirent[];
  next: number;
}

/** The tar name of a layer path: relative, as bytes. */
function tarName(path: ByteString): Buffer {
  return bytesOf(path.slice(1) as ByteString);
}

function pathOf(dir: DirNode | undefined, name: ByteString): ByteString {
  let path = name as string;
  for (let d = dir; d !== undefined && d.parent !== undefined; d = d.parent) path = `${d.name}/${path}`;
  return ('/' + path) as ByteString;
}

/** Sockets have no tar type (moby skips them too). */
function tarKind(kind: LayerStat['kind']): TarEntryKind | undefined {
  return kind === 'socket' ? undefined : kind;
}

async function* tarEntries(src: DiffSource, rootStat: LayerStat, log: Logger): AsyncGenerator<Buffer> {
  const rootDir: DirNode = { parent: undefined, name: '' as ByteString };
  const rootPath = '/' as ByteString;
  const stack: Frame[] = [{ dir: rootDir, path: rootPath, entries: await src.fs.list(src.ref(rootPath, rootStat.inode)), next: 0 }];
  // The first name of a multiply-linked inode carries the body; later names become hard links to it.
  const links = new HardLinks<{ dir: DirNode; name: ByteString }>();
  const out = new Batch();
  while (stack.length > 0) {
    const ready = out.take();
    if (ready) yield ready;
    const top = stack[stack.length - 1]!;
    const e = top.entries[top.next++];
    if (e === undefined) {
      stack.pop();
      src.fs.done(top.entries);
      continue;
    }
    const path = joinBytePath(top.path, e.name);
    const ref = src.ref(path, e.ino);
    const stat = await src.fs.stat(ref);
    if (await isFormatArtefact(src.fs, ref, path, stat)) continue;

    if (isWhiteout(stat)) {
      // moby: "we just rename the file and make it normal" (mode 0600, no body).
      const name = tarName(joinBytePath(top.path, (WHITEOUT_PREFIX + e.name) as ByteString));
      out.add(encodeTarItem({ name, type: 'file', mode: 0o600, uid: stat.uid, gid: stat.gid, size: 0, mtime: stat.mtime }));
      continue;
    }
    const type = tarKind(stat.kind);
    if (!type) {
      log.warn({ path: bytesToText(path) }, 'skipping a socket: tar cannot represent it');
      continue;
    }
    const allXattrs = await src.fs.listXattrs(ref);
    refuseIndirect(allXattrs, src.file, bytesToText(path));
    const item: TarItem = {
      name: tarName(path),
      type,
      mode: stat.mode,
      uid: stat.uid,
      gid: stat.gid,
      size: 0,
      mtime: stat.mtime,
      xattrs: portableXattrs(allXattrs),
    };

    if (stat.kind !== 'dir' && stat.nlink > 1) {
      const first = links.earlier(stat, { dir: top.dir, name: e.name });
      if (first !== undefined) {
        // The inode's xattrs travel with its first name only, as GNU tar does.
        out.add(encodeTarItem({ ...item, type: 'hardlink', linkname: tarName(pathOf(first.dir, first.name)), xattrs: undefined }));
        continue;
      }
    }

    switch (stat.kind) {
      case 'file': {
        const regions = fitRegions(await src.fs.dataRegions(ref, stat.size), MAX_SPARSE_REGIONS);
        const stored = regions.reduce((n, r) => n + r.length, 0);
        out.add(encodeTarItem({ ...item, size: stat.size, sparse: stored < stat.size ? regions : undefined }));
        if (stored === 0) break;
        for await (const chunk of fileBody(src, ref, regions, stored)) yield* out.pass(chunk);
        break;
      }
      case 'symlink':
        out.add(encodeTarItem({ ...item, linkname: await src.fs.readlink(ref) }));
        break;
      case 'char':
      case 'block':
        out.add(encodeTarItem({ ...item, devmajor: stat.rdevMajor, devminor: stat.rdevMinor }));
        break;
      case 'dir':
        out.add(encodeTarItem(item));
        if (isOpaqueXattrs(allXattrs)) {
          // moby's converter: a regular file inheriting the dir's owner, permissions and time.
          out.add(
            encodeTarItem({
              name: tarName(joinBytePath(path, OPAQUE_MARKER as ByteString)),
              type: 'file',
              mode: stat.mode & 0o777,
              uid: stat.uid,
              gid: stat.gid,
              size: 0,
              mtime: stat.mtime,
            }),
          );
        }
        stack.push({ dir: { parent: top.dir, name: e.name }, path, entries: await src.fs.list(ref), next: 0 });
        break;
      default:
        out.add(encodeTarItem(item));
    }
  }
  const rest = out.take(true);
  if (rest) yield rest;
}

async function* fileBody(src: DiffSource, ref: LayerRef, regions: readonly DataRegion[], stored: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of src.fs.readRegions(ref, regions)) {
    seen += chunk.length;
    if (seen > stored) break;
    yield chunk;
  }
  if (seen !== stored) {
    throw new LcowError('EBADIMAGE', `file ${bytesToText(ref.path)} yielded ${seen} bytes of data, its map says ${stored}`, {
      file: src.file,
      path: bytesToText(ref.path),
    });
  }
  if (stored % 512 !== 0) yield padding(stored);
}
