/** The tar front-end: tar (plain, gzip, zstd) → LayerEntry stream. */
export { readLayerEntries, type ReadLayerOptions } from './read-entries.js';
export { decompressIfNeeded, detectCompression, type Compression } from './decompress.js';
export { decompressZstd, findZstdProgram, zstdSupport, zstdUnsupported } from './zstd.js';
export { cleanPath, MAX_NAME_BYTES } from './strip/clean-path.js';
export { classifyWhiteout } from './whiteout.js';
export { readFileChunks, type FileChunkOptions } from './file-source.js';
