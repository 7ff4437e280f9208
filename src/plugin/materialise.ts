/**
 * A read-only layer's files in a host directory, for the daemon's `Get`:
 * `docker save` re-assembles the layer's original tar from its stored
 * tar-split headers and reads every regular file's bytes from that directory
 * by its tar name (moby's naiveDiffPathDriver → storage.NewPathFileGetter),
 * checking each one's CRC64 and the whole stream's sha256.
 *
 * The files come from the driver's own `diff` (the host-side ext4 reader)
 * and are written here by a small extractor that trusts nothing it did not
 * make: the directory starts empty, every parent must be a directory this
 * extractor made (never a symlink it could write through), a hard link must
 * name a file made before it, and files are created exclusively.
 *
 * What is and is not reproduced: directories, regular files (their holes
 * stay holes), symlinks and hard links, with mode, mtime and — when this
 * process is root — owner. Not: xattrs (Node has no setxattr), devices and
 * FIFOs (no mknod), and whiteouts (`.wh.*`: a deletion, not a file). None of
 * those has bytes for the daemon to read, and their headers come from the
 * stored tar-split, not from here.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { textToBuffer } from '../byte-names.js';
import { LcowError, hostFsError } from '../errors.js';
import type { Logger } from '../log.js';
import { classifyWhiteout } from '../layer/index.js';
import { readTarEntries, type TarEntry, type TarEntryMeta, type TarFileEntry } from '../tar/index.js';

export interface MaterialiseResult {
  entries: number;
  /** Bytes of file data written (holes not counted). */
  bytes: number;
  /** Entries with nothing a host directory can hold for them (devices, FIFOs, whiteouts). */
  skipped: number;
}

const asRoot = process.getuid?.() === 0;

/** Extract `tar` into the empty directory `dir`. `progress` is called after every entry. */
export async function materialise(tar: AsyncIterable<Uint8Array>, dir: string, log: Logger, progress: () => void = () => {}): Promise<MaterialiseResult> {
  const dirs = new Map<string, TarEntryMeta | undefined>([['', undefined]]);
  const files = new Set<string>();
  const result: MaterialiseResult = { entries: 0, bytes: 0, skipped: 0 };
  // Names are exact text (a stray byte as U+DC80..U+DCFF): the file system gets their bytes back.
  const root = Buffer.from(dir.endsWith('/') ? dir : `${dir}/`);
  const abs = (rel: string): Buffer => Buffer.concat([root, textToBuffer(rel)]);

  /** Make the parents of `rel` that the tar has not named yet (it may name them later, with their metadata). */
  const ensureParent = async (rel: string, tarName: string): Promise<void> => {
    const parent = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
    if (dirs.has(parent)) return;
    if (files.has(parent)) throw new LcowError('EBADTAR', `${tarName}: its parent is not a directory`, { entry: tarName });
    await ensureParent(parent, tarName);
    await fs.mkdir(abs(parent), { mode: 0o700 });
    dirs.set(parent, undefined);
  };

  for await (const entry of readTarEntries(tar)) {
    result.entries++;
    if (entry.path === '') continue;
    if (classifyWhiteout(entry.path).kind !== 'none') {
      result.skipped++;
      continue;
    }
    await ensureParent(entry.path, entry.tarName);
    const target = abs(entry.path);
    try {
      switch (entry.kind) {
        case 'dir':
          if (files.has(entry.path)) throw new LcowError('EBADTAR', `${entry.tarName}: named twice`, { entry: entry.tarName });
          if (!dirs.has(entry.path)) await fs.mkdir(target, { mode: 0o700 });
          dirs.set(entry.path, entry.meta); // mode and times once the children are in
          break;
        case 'file':
          claim(entry, dirs, files);
          result.bytes += await writeFile(target, entry);
          await setMeta(target, entry.meta, true);
          break;
        case 'symlink':
          claim(entry, dirs, files);
          await fs.symlink(textToBuffer(entry.target), target);
          await setMeta(target, entry.meta, false);
          break;
        case 'hardlink':
          if (!files.has(entry.target))
            throw new LcowError('EBADTAR', `${entry.tarName}: links to ${entry.target}, which is not an earlier file`, { entry: entry.tarName });
          claim(entry, dirs, files);
          await fs.link(abs(entry.target), target);
          break;
        default:
          result.skipped++;
          log.debug({ entry: entry.path, kind: entry.kind }, 'not materialised: no bytes to read');
      }
    } catch (err) {
      throw hostFsError(err, `cannot materialise ${entry.tarName} in ${dir}`, { entry: entry.tarName, dir });
    }
    progress();
  }
  // Deepest first, so a directory's own time is set after its children changed it.
  for (const [rel, meta] of [...dirs].reverse()) if (rel !== '' && meta) await setMeta(abs(rel), meta, true);
  return result;
}

function claim(entry: TarEntry, dirs: Map<string, unknown>, files: Set<string>): void {
  if (dirs.has(entry.path) || files.has(entry.path)) throw new LcowError('EBADTAR', `${entry.tarName}: named twice`, { entry: entry.tarName });
  files.add(entry.path);
}

/** The body at its offsets; all-zero chunks and sparse holes are left as holes. Returns bytes written. */
async function writeFile(file: Buffer, entry: TarFileEntry): Promise<number> {
  const fh = await fs.open(file, 'wx', 0o600);
  let written = 0;
  try {
    const regions = entry.sparse ?? [{ offset: 0, length: entry.size }];
    let region = 0;
    let within = 0;
    for await (const chunk of entry.body) {
      let at = 0;
      while (at < chunk.length) {
        const r = regions[region];
        if (!r) throw new LcowError('EBADTAR', `${entry.tarName}: more data than its regions`, { entry: entry.tarName });
        const n = Math.min(chunk.length - at, r.length - within);
        written += await writeNonZero(fh, chunk.subarray(at, at + n), r.offset + within);
        at += n;
        within += n;
        if (within === r.length) {
          region++;
          within = 0;
        }
      }
    }
    await fh.truncate(entry.size);
  } finally {
    await fh.close();
  }
  return written;
}

/** Holes are found this finely: a zero window inside a chunk is skipped, not written. */
const HOLE_WINDOW = 64 * 1024;

/** Write `piece` at `position` as runs of its non-zero windows; returns the bytes written. */
async function writeNonZero(fh: FileHandle, piece: Buffer, position: number): Promise<number> {
  let written = 0;
  let runStart = -1;
  for (let w = 0; w <= piece.length; w += HOLE_WINDOW) {
    const end = Math.min(w + HOLE_WINDOW, piece.length);
    const data = w < piece.length && !isZero(piece, w, end);
    if (data && runStart < 0) runStart = w;
    if ((!data || end === piece.length) && runStart >= 0) {
      const runEnd = data ? end : w;
      await fh.write(piece, runStart, runEnd - runStart, position + runStart);
      written += runEnd - runStart;
      runStart = -1;
    }
  }
  return written;
}

function isZero(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

async function setMeta(file: Buffer, meta: TarEntryMeta, chmod: boolean): Promise<void> {
  // Owner first: chown clears setuid/setgid, so the mode goes after it.
  if (asRoot) await fs.lchown(file, meta.uid, meta.gid);
  if (chmod) await fs.chmod(file, meta.mode & 0o7777);
  const t = (ts: { sec: number; nsec: number }) => ts.sec + ts.nsec / 1e9;
  await fs.lutimes(file, t(meta.atime), t(meta.mtime));
}
