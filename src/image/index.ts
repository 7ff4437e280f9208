/**
 * image/: images without a registry. Import a docker-save tarball or an OCI
 * layout into a driver (digests verified, chain ids as layer ids), and write
 * docker-save archives.
 */
export { importImage, readImageArchive, type ArchiveLayer, type ImageArchive, type ImportTarget, type ImportProgress, type ImportOptions } from './import.js';
export type { ImageConfig } from './layouts.js';
export type { VerifiedStream } from './verify.js';
export { chainIds } from './chain-id.js';
export { packDockerSave, writeDockerSave, type DockerSaveImage, type DockerSaveResult } from './docker-save.js';
