/**
 * Write an image as `docker save` does (the layout readImageArchive reads
 * first): `<diff id hex>/layer.tar` per layer, `<config hex>.json`, and
 * manifest.json naming them. For examples and tests that make images, and
 * for engines that hand images on without a registry.
 *
 * Written with tar-stream's pack: these are plain members with UTF-8 names,
 * the case it serves well. (The diff writer keeps its own encoder for what
 * pack cannot express: see src/tar/write-entry.ts.)
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

export interface DockerSaveImage {
  /** Uncompressed layer tars, base first. */
  layers: Buffer[];
  /** The image config without `rootfs` (added from the layers). Default: linux/amd64 and nothing else. */
  config?: Record<string, unknown>;
  /** e.g. ['busybox:latest']. */
  repoTags?: string[];
}

export interface DockerSaveResult {
  /** 'sha256:<hex>' of each layer, base first (the config's rootfs.diff_ids). */
  diffIds: string[];
  /** 'sha256:<hex>' of the config blob: docker's image id. */
  configDigest: string;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** The archive as a byte stream; `result` is known before any byte is read. */
export function packDockerSave(image: DockerSaveImage): { stream: Readable; result: DockerSaveResult } {
  const diffIds = image.layers.map((l) => `sha256:${sha256(l)}`);
  const names = diffIds.map((d) => `${d.slice('sha256:'.length)}/layer.tar`);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', ...image.config, rootfs: { type: 'layers', diff_ids: diffIds } }));
  const configHex = sha256(config);
  const manifest = [{ Config: `${configHex}.json`, RepoTags: image.repoTags ?? [], Layers: names }];
  const pack = tar.pack();
  image.layers.forEach((l, i) => pack.entry({ name: names[i]! }, l));
  pack.entry({ name: `${configHex}.json` }, config);
  pack.entry({ name: 'manifest.json' }, Buffer.from(JSON.stringify(manifest)));
  pack.finalize();
  return { stream: pack as unknown as Readable, result: { diffIds, configDigest: `sha256:${configHex}` } };
}

export async function writeDockerSave(file: string, image: DockerSaveImage): Promise<DockerSaveResult> {
  const { stream, result } = packDockerSave(image);
  await pipeline(stream, createWriteStream(file));
  return result;
}
