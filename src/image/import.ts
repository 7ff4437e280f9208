/**
 * Image import without a registry: open a `docker save` tarball or an OCI
 * image layout (directory or tarball), and apply its layers to a driver, base
 * first, each verified against its diff id on the way (verify.ts). Layer ids
 * are chain ids (chain-id.ts); a layer the driver has is skipped.
 *
 * A compressed archive (`docker save | gzip`, or zstd) is expanded once into a
 * temporary file, since members need random access. That file is unlinked as
 * soon as it is open and read through its handle: a killed import leaves
 * nothing behind (it left its whole decompressed copy, 400 MB for one real
 * image, in the temp folder every time); close() frees it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LcowError, asError, hostFsError, isLcowError, isSystemError } from '../errors.js';
import { writeAll } from '../write-all.js';
import { componentLogger, type Logger } from '../log.js';
import { decompress, detectCompression } from '../tar/index.js';
import { directoryStore, tarFileStore, type MemberStore } from './archive.js';
import { badImage } from './bad-image.js';
import { chainIds } from './chain-id.js';
import { resolveLayout, type ImageConfig } from './layouts.js';
import { openVerified, type VerifiedStream } from './verify.js';

export interface ArchiveLayer {
  /** 'sha256:<hex>' of the uncompressed layer tar. */
  diffId: string;
  /** As the manifest says (docker save: 'application/vnd.docker.image.rootfs.diff.tar'). */
  mediaType: string;
  /** The decompressed tar; errors with EBADIMAGE (instead of ending) when its sha256 is not diffId. */
  open(): Promise<Readable>;
  /** The same stream with its verification: whether the whole layer matched, for a consumer that stops early. */
  openVerified(): Promise<VerifiedStream>;
}

export interface ImageArchive {
  layers: ArchiveLayer[];
  config: ImageConfig;
  repoTags: string[];
  /** Free the temporary copy a compressed archive was expanded into (no-op otherwise). */
  close(): Promise<void>;
}

/** The part of a driver that import needs (structural: LcowDriver satisfies it). */
export interface ImportTarget {
  applyDiff(id: string, parent: string, tar: Readable): Promise<number>;
  exists(id: string): Promise<boolean>;
  /** Used to roll back a layer whose content failed verification after applyDiff returned. */
  remove?(id: string): Promise<void>;
}

export interface ImportProgress {
  index: number;
  total: number;
  layerId: string;
  diffId: string;
  state: 'skipped' | 'applying' | 'applied';
  /** applyDiff's result (the layer size) when applied. */
  size?: number;
}

export interface ImportOptions {
  onProgress?: (p: ImportProgress) => void;
  logger?: Logger;
}

export async function readImageArchive(pathOrDir: string): Promise<ImageArchive> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(pathOrDir);
  } catch (err) {
    throw new LcowError('ENOTFOUND', `no image archive at ${pathOrDir}`, { file: pathOrDir }, { cause: err });
  }
  let expanded: fs.promises.FileHandle | undefined;
  const close = async () => {
    const fh = expanded;
    expanded = undefined;
    await fh?.close();
  };
  try {
    let store: MemberStore;
    if (st.isDirectory()) store = directoryStore(pathOrDir);
    else {
      expanded = await expandIfCompressed(pathOrDir);
      store = await tarFileStore(pathOrDir, expanded);
    }
    const resolved = await resolveLayout(store, pathOrDir);
    const diffIds = resolved.config.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || diffIds.length !== resolved.layers.length) {
      throw badImage(`the config lists ${diffIds?.length ?? 0} diff ids for ${resolved.layers.length} layers`, { file: pathOrDir });
    }
    const layers = resolved.layers.map((l, i): ArchiveLayer => {
      const diffId = diffIds[i]!;
      const ctx = { file: pathOrDir, member: l.member, index: i };
      const verifiedLayer = async () => {
        if (!store.has(l.member)) throw badImage(`image archive has no layer ${l.member}`, ctx);
        return openVerified(store.open(l.member), diffId, l.mediaType, ctx);
      };
      return { diffId, mediaType: l.mediaType, openVerified: verifiedLayer, open: async () => (await verifiedLayer()).stream };
    });
    return { layers, config: resolved.config, repoTags: resolved.repoTags, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The archive decompressed into a temporary file that is already unlinked
 * (its handle, which the caller closes), or undefined when it is plain tar.
 */
async function expandIfCompressed(file: string): Promise<fs.promises.FileHandle | undefined> {
  const head = Buffer.alloc(6);
  const src = await fs.promises.open(file, 'r').catch((err: unknown) => {
    throw hostFsError(err, `cannot open ${file}`, { file });
  });
  try {
    await src.read(head, 0, head.length, 0);
  } finally {
    await src.close();
  }
  if (detectCompression(head) === 'none') return undefined;
  const tmp = path.join(os.tmpdir(), `lcow-image-${process.pid}-${randomBytes(6).toString('hex')}.tar`);
  const out = await fs.promises.open(tmp, 'wx+', 0o600).catch((err: unknown) => {
    throw hostFsError(err, `cannot make a temporary file to expand ${file}`, { file, tmp });
  });
  try {
    await fs.promises.unlink(tmp).catch((err: unknown) => {
      throw hostFsError(err, `cannot unlink the temporary file ${tmp}`, { file, tmp });
    });
    let position = 0;
    for await (const chunk of decompress(fs.createReadStream(file))) {
      await writeAll(out, chunk, position);
      position += chunk.length;
    }
  } catch (err) {
    await out.close();
    await fs.promises.rm(tmp, { force: true }); // there only when the unlink itself failed
    if (isLcowError(err, 'EUNSUPPORTED', 'EIO', 'ENOTFOUND')) throw err;
    // A system call that failed is the host's (a full temp folder: errno ENOSPC); anything else, the archive's.
    if (isSystemError(err)) throw hostFsError(err, `cannot expand ${file} into ${os.tmpdir()}`, { file });
    throw badImage(`${file}: the compressed archive does not decompress: ${asError(err).message}`, { file }, err);
  }
  return out;
}

export async function importImage(driver: ImportTarget, archivePath: string, options: ImportOptions = {}): Promise<{ topLayerId: string; layerIds: string[] }> {
  const log = componentLogger(options.logger, 'image-import', { file: archivePath });
  const image = await readImageArchive(archivePath);
  try {
    return await applyLayers(driver, image, archivePath, options, log);
  } finally {
    await image.close();
  }
}

async function applyLayers(
  driver: ImportTarget,
  image: ImageArchive,
  archivePath: string,
  options: ImportOptions,
  log: Logger,
): Promise<{ topLayerId: string; layerIds: string[] }> {
  if (image.layers.length === 0) throw badImage('the image has no layers', { file: archivePath });
  const ids = chainIds(image.layers.map((l) => l.diffId)).map((c) => c.replace(/^sha256:/, ''));
  let parent = '';
  for (const [index, layer] of image.layers.entries()) {
    const layerId = ids[index]!;
    const progress = (state: ImportProgress['state'], size?: number) =>
      options.onProgress?.({ index, total: image.layers.length, layerId, diffId: layer.diffId, state, size });
    if (await driver.exists(layerId)) {
      log.debug({ layerId }, 'layer exists, skipped');
      progress('skipped');
    } else {
      progress('applying');
      const size = await applyVerified(driver, layer, layerId, parent, log);
      if (size === 'exists') progress('skipped');
      else progress('applied', size);
    }
    parent = layerId;
  }
  return { topLayerId: parent, layerIds: ids };
}

/** applyDiff with the diff id checked on the way; 'exists' when a concurrent import applied the same layer first. */
async function applyVerified(driver: ImportTarget, layer: ArchiveLayer, layerId: string, parent: string, log: Logger): Promise<number | 'exists'> {
  const verify = await layer.openVerified();
  let size: number;
  try {
    size = await driver.applyDiff(layerId, parent, verify.stream);
  } catch (err) {
    // Bad content is the real cause when the verifier already failed;
    // otherwise stop reading (no point hashing the rest of a failed layer).
    const failure = verify.failure();
    verify.abort();
    verify.stream.destroy();
    if (failure) throw failure;
    // Chain ids are content addresses: the same id applied by someone else is the same layer.
    if (isLcowError(err, 'EEXIST') && (await driver.exists(layerId))) {
      log.debug({ layerId }, 'layer appeared while importing (concurrent import), skipped');
      return 'exists';
    }
    throw err;
  }
  try {
    await verify.verified;
  } catch (err) {
    log.warn({ layerId, err }, 'layer failed verification after it was applied; removing it');
    await driver.remove?.(layerId).catch((rerr: unknown) => log.error({ layerId, err: rerr }, 'could not remove the unverified layer'));
    throw err;
  }
  log.info({ layerId, size }, 'layer applied');
  return size;
}
