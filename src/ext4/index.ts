/**
 * ext4/: the on-disk format (format/, encode and decode side by side), the
 * streaming writer of compact read-only images and the empty writable ext4
 * for sandboxes (writer/), dm-verity, and the host-side reader (reader/).
 */
export type { LayerEntry, EntryKind, EntryMeta, Timestamp, SparseRegion } from './writer/entry.js';
export { BLOCK_SIZE as EXT4_BLOCK_SIZE } from './format/constants.js';
export { Ext4Writer, type Ext4WriterOptions, type Ext4WriteResult } from './writer/writer.js';
export { formatEmptyExt4, type EmptyExt4Image } from './writer/format-empty.js';
export { appendVerityTree, type VerityResult } from './verity.js';
export { Ext4Image, type Ext4DirEntry, type Ext4Dirent, type Ext4WalkEntry, type DataRegion } from './reader/image.js';
export { HeldEntries, MAX_HELD_ENTRIES, type WalkBudget } from './reader/walk-budget.js';
export type { ByteString } from '../byte-names.js';
export type { Ext4BlockSource } from './reader/block-source.js';
export type { Ext4Stat } from './reader/stat.js';
export type { Ext4Superblock } from './format/superblock.js';
