/**
 * layer/: a layer tar → the image a utility VM mounts (tar → ext4 →
 * dm-verity → VHD), with OCI whiteouts; and reading those images back.
 */
export { convertTarToExt4, DEFAULT_LAYER_ALIGNMENT, type ConvertOptions, type ConvertResult, type ConvertProgress, type ConvertInput } from './convert.js';
export { readFileChunks, type FileChunkOptions } from './file-chunks.js';
export { classifyWhiteout, convertWhiteouts, whiteoutEntry, type WhiteoutKind } from './whiteouts.js';
export { openExt4Image } from './open-image.js';
