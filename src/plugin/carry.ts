/**
 * A container layer's `Get` directory is a drop box. The rootfs of an LCOW
 * container lives in a utility VM, so the directory the daemon gets starts
 * empty, and what the daemon writes there — the init layer's `/etc/hosts`,
 * `/dev/console`, `/.dockerenv`…, a container's working directory — is
 * carried into the layer at the last `Put`, through the union in a service
 * VM: each entry made by `place`, as if the daemon had written it into the
 * container's rootfs. A directory that the rootfs already has is kept as it
 * is, which is what the daemon's `MkdirAll` would have done there (and so an
 * existing WORKDIR shows no change in `docker diff`); files and symlinks
 * replace what was there, as the daemon's own unlink-then-create does.
 *
 * Only what a directory can say is carried: type, bytes, owner, mode, a
 * file's mtime. Hard links arrive as copies; FIFOs, devices and sockets are
 * skipped (the daemon writes none).
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { LcowError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PlacedEntry } from '../driver/index.js';

/** The part of a layer handle the carry needs. */
export interface PlaceTarget {
  place(p: string, entry: PlacedEntry): Promise<'made' | 'kept'>;
}

export interface CarryResult {
  made: number;
  kept: number;
  skipped: number;
}

/** Files the daemon writes are small; a bigger one (`docker cp` of an archive) is refused rather than buffered. */
const MAX_FILE_BYTES = 64 << 20;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether the drop box holds anything (an empty one needs no VM). */
export async function isEmptyDir(dir: string): Promise<boolean> {
  return (await fs.readdir(dir)).length === 0;
}

/** Carry everything under `dir` into the rootfs behind `target`, parents before children. */
export async function carry(dir: string, target: PlaceTarget, log: Logger): Promise<CarryResult> {
  const result: CarryResult = { made: 0, kept: 0, skipped: 0 };
  // Paths still to place, the next one on top: a directory's children go on when it is placed, sorted, so
  // entries come out in sorted pre-order (each directory before what it holds) without recursion.
  const stack = await children(dir, '');
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const file = path.join(dir, rel);
    const entry = await entryOf(file, await fs.lstat(file));
    if (!entry) {
      result.skipped++;
      log.warn({ path: `/${rel}` }, 'not carried into the layer: a rootfs write never makes one');
      continue;
    }
    result[await target.place(`/${rel}`, entry)]++;
    if (entry.type === 'dir') stack.push(...(await children(dir, rel)));
  }
  return result;
}

/** The entries of `rel`, as relative paths in reverse name order (the stack's order). */
async function children(dir: string, rel: string): Promise<string[]> {
  const names = (await fs.readdir(path.join(dir, rel), { encoding: 'buffer' })).map((n) => nameOf(n, rel));
  return names
    .sort()
    .reverse()
    .map((n) => (rel === '' ? n : `${rel}/${n}`));
}

function nameOf(raw: Buffer, rel: string): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new LcowError('EUNSUPPORTED', `a name in the layer's Get directory is not UTF-8: ${rel}/${raw.toString('latin1')}`, { path: rel });
  }
}

async function entryOf(file: string, st: Stats): Promise<PlacedEntry | undefined> {
  const owner = { uid: st.uid, gid: st.gid };
  if (st.isDirectory()) return { type: 'dir', mode: st.mode & 0o7777, ...owner };
  if (st.isSymbolicLink()) return { type: 'symlink', target: await fs.readlink(file), mtimeSec: st.mtimeMs / 1000, ...owner };
  if (st.isFile()) {
    if (st.size > MAX_FILE_BYTES) {
      throw new LcowError('ETOOBIG', `${file} is ${st.size} bytes; files carried into a layer are at most ${MAX_FILE_BYTES}`, { file, size: st.size });
    }
    return { type: 'file', data: await fs.readFile(file), mode: st.mode & 0o7777, mtimeSec: st.mtimeMs / 1000, ...owner };
  }
  return undefined;
}
