/**
 * Image import without a registry: read a `docker save` tarball, an OCI
 * image layout (directory or tarball), and apply its layers to a driver.
 *
 *   readImageArchive(pathOrDir: string): Promise<ImageArchive>
 *     ImageArchive = { layers: ArchiveLayer[]; config: ImageConfig; repoTags: string[]; close(): Promise<void> }
 *     ArchiveLayer = { diffId: string; mediaType: string; open(): Promise<Readable> }
 *   importImage(driver: ImportTarget, archivePath: string, options?: ImportOptions)
 *     : Promise<{ topLayerId: string; layerIds: string[] }>
 *   chainIds(diffIds: string[]): string[]
 *
 * Layouts: docker save (manifest.json → Config, Layers, RepoTags; both the
 * `<id>/layer.tar` layout and Docker 25's `blobs/sha256/<hex>`, members that
 * are symlinks or hard links included) and OCI (oci-layout + index.json →
 * [index →] manifest → config + layers); a tarball may be gzip-compressed
 * (`docker save | gzip`), in which case it is expanded to a temporary file
 * that close() removes. Layers are decompressed on the fly
 * by their magic bytes (gzip; zstd through Node's zlib or the zstd program), so a
 * mislabelled mediaType does not matter.
 *
 * Verification: each layer's uncompressed bytes are hashed while they stream
 * and compared with config.rootfs.diff_ids[i]. On a mismatch the stream
 * given to the consumer errors (EBADIMAGE) *instead of ending*, so a
 * consumer that reads to EOF fails inside applyDiff and the driver discards
 * its temporary output. A consumer may stop at the tar end-of-archive
 * blocks before EOF; the verifier then keeps reading the source to the end
 * on its own, and importImage, seeing the mismatch after applyDiff returned,
 * removes the layer (driver.remove) before throwing EBADIMAGE.
 *
 * Layer ids are chain ids (OCI: ChainID(L0) = DiffID(L0); ChainID(L0..n) =
 * sha256(ChainID(L0..n-1) + " " + DiffID(n))), written as bare hex so they
 * are valid directory names everywhere; a layer that exists is skipped.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { LcowError, asError, isLcowError } from '../errors.js';
import { drainedOrClosed } from '../drained.js';
import { decompressZstd, detectCompression, zstdSupport, zstdUnsupported } from '../ext4/index.js';
import { componentLogger, type Logger } from '../log.js';
import { decodePax } from './host-diff/pax.js';

// ---------------------------------------------------------------- types

export interface ImageConfig {
  rootfs?: { type?: string; diff_ids?: string[] };
  [key: string]: unknown;
}

export interface ArchiveLayer {
  /** 'sha256:<hex>' of the uncompressed layer tar. */
  diffId: string;
  /** As the manifest says (docker save: 'application/vnd.docker.image.rootfs.diff.tar'). */
  mediaType: string;
  /** The decompressed tar; errors with EBADIMAGE (instead of ending) when its sha256 is not diffId. */
  open(): Promise<Readable>;
}

export interface ImageArchive {
  layers: ArchiveLayer[];
  config: ImageConfig;
  repoTags: string[];
  /** Remove the temporary copy a compressed archive was expanded into (no-op otherwise). */
  close(): Promise<void>;
}

/** The part of the driver import needs (structural: LcowDriver satisfies it). */
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

// ---------------------------------------------------------------- chain ids

function sha256Hex(s: string | Buffer): string {
  return crypto.createHash('sha256').update(s).digest('hex');
}

/** OCI chain ids ('sha256:<hex>') for diff ids in order, base layer first. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const [i, d] of diffIds.entries()) out.push(i === 0 ? d : `sha256:${sha256Hex(`${out[i - 1]} ${d}`)}`);
  return out;
}

// ---------------------------------------------------------------- archive members

/** Named members of an archive: a directory on disk, or an uncompressed tar file indexed once. */
interface MemberStore {
  has(name: string): boolean;
  read(name: string): Promise<Buffer>;
  open(name: string): Readable;
}

const MAX_JSON = 64 << 20;

function badImage(message: string, context: Record<string, unknown>, cause?: unknown): LcowError {
  return new LcowError('EBADIMAGE', message, context, cause === undefined ? undefined : { cause });
}

function cleanMember(name: string): string {
  return path.posix.normalize(name.replace(/^\.?\/+/, '')).replace(/^(\.\/)+/, '');
}

function dirStore(root: string): MemberStore {
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

interface TarMember {
  offset: number;
  size: number;
  /** Symlink or hard-link target (archive-relative, resolved) when the member is a link. */
  link?: string;
}

function parseOctal(buf: Buffer, off: number, len: number): number {
  if (buf[off] & 0x80) {
    // GNU base-256 for big sizes
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + buf[i];
    return v;
  }
  const s = buf
    .toString('latin1', off, off + len)
    .replace(/\0.*$/s, '')
    .trim();
  return s ? parseInt(s, 8) : 0;
}

function cString(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** Index the members of an uncompressed tar by reading its headers only (bodies are skipped). */
async function tarStore(file: string): Promise<MemberStore> {
  const fh = await fs.promises.open(file, 'r');
  const members = new Map<string, TarMember>();
  try {
    const header = Buffer.alloc(512);
    let pos = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let paxPath: string | undefined;
    let paxLink: string | undefined;
    let paxSize: number | undefined;
    for (;;) {
      const { bytesRead } = await fh.read(header, 0, 512, pos);
      if (bytesRead < 512 || header.every((b) => b === 0)) break;
      const magic = header.toString('latin1', 257, 262);
      if (magic !== 'ustar') throw badImage(`${file} is not a tar archive (no ustar header at ${pos})`, { file, offset: pos });
      const type = String.fromCharCode(header[156] || 0x30);
      const size = paxSize ?? parseOctal(header, 124, 12);
      const bodyAt = pos + 512;
      const readBody = async () => {
        const b = Buffer.alloc(size);
        await fh.read(b, 0, size, bodyAt);
        return b;
      };
      let next = bodyAt + Math.ceil(size / 512) * 512;
      if (type === 'x' || type === 'L' || type === 'K') {
        const body = await readBody();
        if (type === 'x') {
          const records = decodePax(body);
          paxPath = records.get('path')?.toString('utf8');
          paxLink = records.get('linkpath')?.toString('utf8');
          const s = records.get('size')?.toString('latin1');
          paxSize = s === undefined ? undefined : Number(s);
        } else if (type === 'L') longName = cString(body, 0, body.length);
        else longLink = cString(body, 0, body.length);
        pos = next;
        continue;
      }
      if (type === 'g') {
        pos = next;
        continue;
      }
      const prefix = cString(header, 345, 155);
      const ustarName = prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100);
      const name = cleanMember(paxPath ?? longName ?? ustarName);
      const linkname = paxLink ?? longLink ?? cString(header, 157, 100);
      if (type === '0' || type === '7') members.set(name, { offset: bodyAt, size });
      else if (type === '1') members.set(name, { offset: 0, size: 0, link: cleanMember(linkname) });
      else if (type === '2') members.set(name, { offset: 0, size: 0, link: cleanMember(path.posix.join(path.posix.dirname(name), linkname)) });
      if (type === '1' || type === '2') next = bodyAt; // links have no body
      longName = longLink = paxPath = paxLink = undefined;
      paxSize = undefined;
      pos = next;
    }
  } finally {
    await fh.close();
  }
  const resolve = (name: string): TarMember => {
    let m = members.get(cleanMember(name));
    for (let hops = 0; m?.link !== undefined && hops < 16; hops++) m = members.get(m.link);
    if (!m || m.link !== undefined) throw badImage(`image archive has no member ${name}`, { file, name });
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
      const b = Buffer.alloc(m.size);
      const h = await fs.promises.open(file, 'r');
      try {
        await h.read(b, 0, m.size, m.offset);
      } finally {
        await h.close();
      }
      return b;
    },
    open: (name) => {
      const m = resolve(name);
      return m.size === 0 ? Readable.from([]) : fs.createReadStream(file, { start: m.offset, end: m.offset + m.size - 1 });
    },
  };
}

async function readJson<T>(store: MemberStore, name: string, where: string): Promise<T> {
  const raw = await store.read(name);
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch (err) {
    throw badImage(`${name} in ${where} is not valid JSON`, { file: where, name }, err);
  }
}

// ---------------------------------------------------------------- decompression + verification

/** Compressed bytes in, tar bytes out; failures surface as the returned stream's error. */
type Decompressor = (compressed: Readable) => Readable;

const gunzip: Decompressor = (compressed) => {
  const out = compressed.pipe(zlib.createGunzip());
  compressed.on('error', (err) => out.destroy(err));
  return out;
};

/** zstd through Node's zlib or the zstd program (ext4's decoder); EUNSUPPORTED with neither. */
const unzstd: Decompressor = (compressed) => {
  if (!zstdSupport()) throw zstdUnsupported();
  return Readable.from(decompressZstd(compressed), { objectMode: false });
};

/** Pick a decompressor by magic bytes (a mediaType can be wrong; the bytes cannot). */
function decompressorFor(head: Buffer, mediaType: string): Decompressor | undefined {
  const kind = detectCompression(head);
  if (kind === 'gzip') return gunzip;
  // zstd frames may start with a skippable frame (pzstd writes one): trust the media type then.
  if (kind === 'zstd' || (/\+zstd$|\.zstd$/.test(mediaType) && head.length > 0)) return unzstd;
  return undefined;
}

async function firstBytes(stream: Readable, n: number): Promise<{ head: Buffer; rest: Readable }> {
  const chunks: Buffer[] = [];
  let got = 0;
  const it = stream[Symbol.asyncIterator]();
  while (got < n) {
    const r = await it.next();
    if (r.done) break;
    const b = Buffer.from(r.value as Buffer);
    chunks.push(b);
    got += b.length;
  }
  const head = Buffer.concat(chunks);
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (head.length) yield head;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value as Buffer;
      }
    } finally {
      await it.return?.(); // closes the file when the consumer stops early
    }
  }
  return { head, rest: Readable.from(rest(), { objectMode: false }) };
}

interface VerifiedStream {
  stream: Readable;
  /** Resolves when the whole layer was read and its sha256 equals the diff id; rejects with EBADIMAGE otherwise. */
  verified: Promise<void>;
  /** The verification error once known (set before the consumer's stream errors). */
  failure(): LcowError | undefined;
  /** Stop reading the source (verified then rejects). */
  abort(): void;
}

/**
 * Decompress and hash. The consumer's stream ends only after the digest
 * matched; if the consumer stops early, reading continues for the hash.
 */
async function openVerified(openRaw: () => Readable, diffId: string, mediaType: string, ctx: Record<string, unknown>): Promise<VerifiedStream> {
  const { head, rest } = await firstBytes(openRaw(), 4);
  const make = decompressorFor(head, mediaType);
  let source: Readable = rest;
  try {
    if (make) source = make(rest);
  } catch (err) {
    rest.destroy(); // e.g. EUNSUPPORTED: close the layer file
    throw err;
  }
  const out = new PassThrough();
  const expected = diffId.replace(/^sha256:/, '');
  // Set before the consumer's stream errors, so importImage can tell bad content from a driver failure.
  let failure: LcowError | undefined;
  const verified = (async () => {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        if (!out.destroyed && !out.writableEnded && !out.write(chunk)) await drainedOrClosed(out);
      }
    } catch (err) {
      const e = isLcowError(err, 'EBADIMAGE', 'EUNSUPPORTED', 'EIO')
        ? err
        : badImage(`layer ${diffId} could not be read or decompressed: ${asError(err).message}`, ctx, err);
      failure = e;
      out.destroy(e);
      throw e;
    }
    const actual = hash.digest('hex');
    if (!diffId.startsWith('sha256:') || actual !== expected) {
      const e = badImage(`layer content does not match its diff id: got sha256:${actual}, expected ${diffId}`, {
        ...ctx,
        diffId,
        actual: `sha256:${actual}`,
        bytes,
      });
      failure = e;
      out.destroy(e);
      throw e;
    }
    out.end();
  })();
  verified.catch(() => {}); // observed by importImage; the stream itself carries the error to other consumers
  return {
    stream: out,
    verified,
    failure: () => failure,
    abort: () => source.destroy(new LcowError('EIO', 'layer read aborted', ctx)),
  };
}

// ---------------------------------------------------------------- layouts

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
  annotations?: Record<string, string>;
}

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

function blobPath(digest: string, where: string): string {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest ?? '');
  if (!m) throw badImage(`bad digest ${JSON.stringify(digest)}`, { file: where });
  return `blobs/${m[1]}/${m[2]}`;
}

interface ResolvedLayer {
  member: string;
  mediaType: string;
}

async function fromDockerSave(store: MemberStore, where: string): Promise<{ config: ImageConfig; layers: ResolvedLayer[]; repoTags: string[] }> {
  const manifest = await readJson<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(store, 'manifest.json', where);
  if (!Array.isArray(manifest) || manifest.length === 0 || typeof manifest[0]?.Config !== 'string' || !Array.isArray(manifest[0].Layers)) {
    throw badImage('manifest.json has no image entry with Config and Layers', { file: where });
  }
  const entry = manifest[0];
  const config = await readJson<ImageConfig>(store, entry.Config, where);
  return {
    config,
    layers: entry.Layers.map((member) => ({ member, mediaType: 'application/vnd.docker.image.rootfs.diff.tar' })),
    repoTags: entry.RepoTags ?? [],
  };
}

async function fromOciLayout(store: MemberStore, where: string): Promise<{ config: ImageConfig; layers: ResolvedLayer[]; repoTags: string[] }> {
  const index = await readJson<{ manifests?: Descriptor[] }>(store, 'index.json', where);
  let desc = pickManifest(index.manifests ?? [], where);
  const repoTags = (index.manifests ?? [])
    .map((d) => d.annotations?.['io.containerd.image.name'] ?? d.annotations?.['org.opencontainers.image.ref.name'])
    .filter((t): t is string => typeof t === 'string');
  for (let depth = 0; desc.mediaType && INDEX_TYPES.includes(desc.mediaType); depth++) {
    if (depth > 4) throw badImage('nested image indexes too deep', { file: where });
    const nested = await readJson<{ manifests?: Descriptor[] }>(store, blobPath(desc.digest, where), where);
    desc = pickManifest(nested.manifests ?? [], where);
  }
  const manifest = await readJson<{ config?: Descriptor; layers?: Descriptor[] }>(store, blobPath(desc.digest, where), where);
  if (!manifest.config || !Array.isArray(manifest.layers)) throw badImage('image manifest has no config or layers', { file: where, manifest: desc.digest });
  const configBytes = await store.read(blobPath(manifest.config.digest, where));
  if (`sha256:${sha256Hex(configBytes)}` !== manifest.config.digest) {
    throw badImage('image config does not match its digest', { file: where, digest: manifest.config.digest });
  }
  let config: ImageConfig;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  } catch (err) {
    throw badImage('image config is not valid JSON', { file: where }, err);
  }
  return {
    config,
    layers: manifest.layers.map((l) => ({ member: blobPath(l.digest, where), mediaType: l.mediaType ?? '' })),
    repoTags,
  };
}

function pickManifest(manifests: Descriptor[], where: string): Descriptor {
  if (manifests.length === 0) throw badImage('index.json lists no manifests', { file: where });
  // A multi-platform index: this driver runs Linux containers on amd64 hosts.
  const linux = manifests.find((m) => m.platform?.os === 'linux' && (m.platform.architecture ?? 'amd64') === 'amd64');
  return linux ?? manifests[0];
}

export async function readImageArchive(pathOrDir: string): Promise<ImageArchive> {
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(pathOrDir);
  } catch (err) {
    throw new LcowError('ENOTFOUND', `no image archive at ${pathOrDir}`, { file: pathOrDir }, { cause: err });
  }
  let expanded: string | undefined;
  const close = async () => {
    if (expanded) await fs.promises.rm(path.dirname(expanded), { recursive: true, force: true });
    expanded = undefined;
  };
  try {
    let store: MemberStore;
    if (st.isDirectory()) store = dirStore(pathOrDir);
    else {
      expanded = await expandIfGzipped(pathOrDir);
      store = await tarStore(expanded ?? pathOrDir);
    }
    const archive = await resolveArchive(store, pathOrDir);
    return { ...archive, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * `docker save | gzip` output: members need random access, so the archive
 * is expanded once into a private temporary directory (removed by close()).
 */
async function expandIfGzipped(file: string): Promise<string | undefined> {
  const head = Buffer.alloc(2);
  const fh = await fs.promises.open(file, 'r');
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) return undefined;
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'lcow-image-'));
  const out = path.join(dir, 'image.tar');
  try {
    await pipeline(fs.createReadStream(file), zlib.createGunzip(), fs.createWriteStream(out, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    await fs.promises.rm(dir, { recursive: true, force: true });
    throw badImage(`${file}: the gzip-compressed archive does not decompress: ${asError(err).message}`, { file }, err);
  }
  return out;
}

async function resolveArchive(store: MemberStore, pathOrDir: string): Promise<Omit<ImageArchive, 'close'>> {
  let resolved;
  if (store.has('manifest.json')) resolved = await fromDockerSave(store, pathOrDir);
  else if (store.has('index.json')) resolved = await fromOciLayout(store, pathOrDir);
  else throw badImage('neither manifest.json (docker save) nor index.json (OCI layout) found', { file: pathOrDir });

  const diffIds = resolved.config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== resolved.layers.length) {
    throw badImage(`the config lists ${diffIds?.length ?? 0} diff ids for ${resolved.layers.length} layers`, { file: pathOrDir });
  }
  const layers = resolved.layers.map((l, i): ArchiveLayer & { openVerified(): Promise<VerifiedStream> } => {
    const diffId = diffIds[i];
    const ctx = { file: pathOrDir, member: l.member, index: i };
    const openVerifiedLayer = () => {
      if (!store.has(l.member)) throw badImage(`image archive has no layer ${l.member}`, ctx);
      return openVerified(() => store.open(l.member), diffId, l.mediaType, ctx);
    };
    return {
      diffId,
      mediaType: l.mediaType,
      openVerified: openVerifiedLayer,
      open: async () => (await openVerifiedLayer()).stream,
    };
  });
  return { layers, config: resolved.config, repoTags: resolved.repoTags };
}

// ---------------------------------------------------------------- import

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
    const layerId = ids[index];
    const progress = (state: ImportProgress['state'], size?: number) =>
      options.onProgress?.({ index, total: image.layers.length, layerId, diffId: layer.diffId, state, size });
    if (await driver.exists(layerId)) {
      log.debug({ layerId }, 'layer exists, skipped');
      progress('skipped');
    } else {
      progress('applying');
      const size = await applyVerified(driver, layer as VerifiableLayer, layerId, parent, log);
      if (size === 'exists') progress('skipped');
      else progress('applied', size);
    }
    parent = layerId;
  }
  return { topLayerId: parent, layerIds: ids };
}

type VerifiableLayer = ArchiveLayer & { openVerified(): Promise<VerifiedStream> };

/** applyDiff with the diff id checked on the way; 'exists' when a concurrent import applied the same layer first. */
async function applyVerified(driver: ImportTarget, layer: VerifiableLayer, layerId: string, parent: string, log: Logger): Promise<number | 'exists'> {
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
