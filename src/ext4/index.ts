/**
 * ext4/: the streaming writer of compact read-only images, the empty
 * writable ext4 for sandboxes, dm-verity, and the host-side reader.
 */
export type { LayerEntry, EntryKind, EntryMeta, Timestamp, SparseRegion } from './entry.js';
export { BLOCK_SIZE as EXT4_BLOCK_SIZE } from './constants.js';
export { Ext4Writer, type Ext4WriterOptions, type Ext4WriteResult } from './writer.js';
export { formatEmptyExt4, type EmptyExt4Image } from './format-empty.js';
export { appendVerityTree, type VerityResult } from './verity.js';
export { Ext4Image, type Ext4DirEntry, type Ext4WalkEntry } from './reader/image.js';
export type { Ext4BlockSource } from './reader/block-source.js';
export type { Ext4Stat } from './reader/stat.js';
