/**
 * tar/: the one tar codec. Reading (plain tar; decompress() first), the
 * writer's header encoder, and compression detection and decoding.
 */
export type {
  TarEntry,
  TarEntryKind,
  TarEntryMeta,
  TarFileBody,
  TarFileEntry,
  TarDirEntry,
  TarSymlinkEntry,
  TarHardlinkEntry,
  TarDeviceEntry,
  TarFifoEntry,
  SparseRegion,
  Timestamp,
} from './entry.js';
export { readTarEntries, TarReader, type ReadTarOptions } from './read-entries.js';
export { FileBytes, type ByteReader } from './byte-source.js';
export { decompress, detectCompression, type Compression, type DecompressOptions } from './compression.js';
export { zstdSupport } from './zstd.js';
export { encodeTarItem, encodeSparseMap, padding, END_OF_ARCHIVE, type TarItem } from './write-entry.js';
export { MAX_SPARSE_REGIONS } from './sparse.js';
