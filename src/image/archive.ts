/**
 * The named members of an image archive: a directory on disk (an OCI layout
 * directory), or an uncompressed tar file indexed once — by path, or through
 * a handle its owner keeps open (an expanded archive, unlinked at once so a
 * killed import leaves nothing behind; see import.ts). The index is made
 * with src/tar's reader over the file at positions, so bodies are seeked
 * over, not read, and the archive is parsed by the same code as every other
 * tar here (a PAX `size` record belongs to the member it precedes, whatever
 * GNU long-name headers sit between).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isLcowError } from '../errors.js';
import { FileBytes, readTarEntries } from '../tar/index.js';
import { badImage } from './bad-image.js';

export interface MemberStore {
  has(name: string): boolean;
  read(name: string): Promise<Buffer>;
  open(name: string): Readable;
}

/** Metadata members (JSON) larger than this are refused rather than read into memory. */
const MAX_JSON = 64 << 20;

/** A member name as manifests spell it → the form the store keys by ('./a//b' → 'a/b'). */
function cleanMember(name: string): string {
  return path.posix.normalize(name.replace(/^\.?\/+/, '')).replace(/^(\.\/)+/, '');
}

export function directoryStore(root: string): MemberStore {
  const resolve = (name: string) => {
    const clean = cleanMember(name);
    if (clean === '..' || clean.startsWith('../')) throw badImage(`member ${name} escapes the image directory`, { root, name });
    return path.join(root, clean);
  };
  return {
    has: (name) => fs.existsSync(resolve(name)),
    read: async (name) => {
      try {
        return await fs.promises.readFile(resolve(name));
      } catch (err) {
        throw badImage(`image directory has no readable member ${name}`, { root, name }, err);
      }
    },
    open: (name) => fs.createReadStream(resolve(name)),
  };
}

/** A regular member's bytes in the file, or a link to another member (archive-relative). */
type TarMember = { offset: number; size: number } | { link: string };

/** How the tar's bytes are reached: `file` names it in messages. */
interface TarFile {
  file: string;
  withHandle<T>(fn: (fh: fs.promises.FileHandle) => Promise<T>): Promise<T>;
  stream(start: number, end: number): Readable;
}

function byPath(file: string): TarFile {
  return {
    file,
    withHandle: async (fn) => {
      const fh = await fs.promises.open(file, 'r');
      try {
        return await fn(fh);
      } finally {
        await fh.close();
      }
    },
    stream: (start, end) => fs.createReadStream(file, { start, end }),
  };
}

/**
 * Reads at positions through a handle the caller owns and closes. Streams
 * read its descriptor and never close it (a FileHandle's own streams hold
 * references that would make the owner's close() wait for ever).
 */
function byHandle(fh: fs.promises.FileHandle, file: string): TarFile {
  return { file, withHandle: (fn) => fn(fh), stream: (start, end) => fs.createReadStream(file, { fd: fh.fd, start, end, autoClose: false }) };
}

/**
 * Index an uncompressed tar by its headers; bodies are not read. With
 * `handle`, every read goes through it (it may name an unlinked file).
 */
export async function tarFileStore(file: string, handle?: fs.promises.FileHandle): Promise<MemberStore> {
  const tarFile = handle ? byHandle(handle, file) : byPath(file);
  const members = await indexTar(tarFile);
  const resolve = (name: string): { offset: number; size: number } => {
    let m = members.get(cleanMember(name));
    for (let hops = 0; m && 'link' in m && hops < 16; hops++) m = members.get(m.link);
    if (!m || 'link' in m) throw badImage(`image archive has no member ${name}`, { file, name });
    return m;
  };
  return {
    has: (name) => {
      try {
        resolve(name);
        return true;
      } catch {
        return false;
      }
    },
    read: async (name) => {
      const m = resolve(name);
      if (m.size > MAX_JSON) throw badImage(`member ${name} is too large for metadata`, { file, name, size: m.size });
      return tarFile.withHandle(async (fh) => {
        const b = Buffer.alloc(m.size);
        const { bytesRead } = await fh.read(b, 0, m.size, m.offset);
        if (bytesRead < m.size) throw badImage(`member ${name} is cut short`, { file, name });
        return b;
      });
    },
    open: (name) => {
      const m = resolve(name);
      return m.size === 0 ? Readable.from([]) : tarFile.stream(m.offset, m.offset + m.size - 1);
    },
  };
}

async function indexTar(tarFile: TarFile): Promise<Map<string, TarMember>> {
  const { file } = tarFile;
  const members = new Map<string, TarMember>();
  try {
    await tarFile.withHandle(async (fh) => {
      const { size } = await fh.stat();
      for await (const e of readTarEntries(new FileBytes(fh, size))) {
        // Sparse members are no contiguous bytes; an image archive never holds one.
        if (e.kind === 'file' && !e.sparse) members.set(e.path, { offset: e.dataOffset, size: e.size });
        else if (e.kind === 'hardlink') members.set(e.path, { link: e.target });
        // Docker 25 links `<id>/layer.tar` → `../blobs/sha256/<hex>`: relative to the link's directory.
        else if (e.kind === 'symlink') members.set(e.path, { link: cleanMember(path.posix.join(path.posix.dirname(e.path), e.target)) });
      }
    });
  } catch (err) {
    if (isLcowError(err, 'EBADTAR', 'EUNSUPPORTED')) throw badImage(`${file} is not a readable tar archive: ${err.message}`, { file, ...err.context }, err);
    throw err;
  }
  return members;
}
