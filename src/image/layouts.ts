/**
 * Where an archive keeps its config and layers:
 *  - docker save: manifest.json → Config, Layers, RepoTags; both the
 *    `<id>/layer.tar` layout and Docker 25's `blobs/sha256/<hex>` (whose
 *    legacy names are symlinks into blobs/);
 *  - OCI image layout: oci-layout + index.json → [index →] manifest →
 *    config + layers, a multi-platform index resolved to linux/amd64.
 */
import { createHash } from 'node:crypto';
import type { MemberStore } from './archive.js';
import { badImage } from './bad-image.js';

export interface ImageConfig {
  rootfs?: { type?: string; diff_ids?: string[] };
  [key: string]: unknown;
}

export interface ResolvedImage {
  config: ImageConfig;
  /** Base layer first: the member holding each layer blob, and its media type. */
  layers: Array<{ member: string; mediaType: string }>;
  repoTags: string[];
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { os?: string; architecture?: string };
  annotations?: Record<string, string>;
}

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const DOCKER_LAYER_TYPE = 'application/vnd.docker.image.rootfs.diff.tar';

/** docker save's manifest.json, else an OCI layout's index.json. */
export async function resolveLayout(store: MemberStore, where: string): Promise<ResolvedImage> {
  if (store.has('manifest.json')) return fromDockerSave(store, where);
  if (store.has('index.json')) return fromOciLayout(store, where);
  throw badImage('neither manifest.json (docker save) nor index.json (OCI layout) found', { file: where });
}

async function readJson<T>(store: MemberStore, name: string, where: string): Promise<T> {
  const raw = await store.read(name);
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch (err) {
    throw badImage(`${name} in ${where} is not valid JSON`, { file: where, name }, err);
  }
}

function blobPath(digest: string, where: string): string {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest ?? '');
  if (!m) throw badImage(`bad digest ${JSON.stringify(digest)}`, { file: where });
  return `blobs/${m[1]}/${m[2]}`;
}

async function fromDockerSave(store: MemberStore, where: string): Promise<ResolvedImage> {
  const manifest = await readJson<Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>>(store, 'manifest.json', where);
  if (!Array.isArray(manifest) || manifest.length === 0 || typeof manifest[0]?.Config !== 'string' || !Array.isArray(manifest[0].Layers)) {
    throw badImage('manifest.json has no image entry with Config and Layers', { file: where });
  }
  const entry = manifest[0];
  const config = await readJson<ImageConfig>(store, entry.Config, where);
  return {
    config,
    layers: entry.Layers.map((member) => ({ member, mediaType: DOCKER_LAYER_TYPE })),
    repoTags: entry.RepoTags ?? [],
  };
}

async function fromOciLayout(store: MemberStore, where: string): Promise<ResolvedImage> {
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
  if (`sha256:${createHash('sha256').update(configBytes).digest('hex')}` !== manifest.config.digest) {
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
  return linux ?? manifests[0]!;
}
