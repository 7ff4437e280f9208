/**
 * vhd/: the fixed-VHD footer a layer.vhd ends with, the dynamic VHDX a
 * sandbox lives in, and block sources that read raw, VHD and VHDX alike.
 */
export { encodeVhdFooter, parseVhdFooter, vhdGeometry, VHD_FOOTER_SIZE, VHD_DISK_TYPE_FIXED, type VhdFooter } from './footer.js';
export { createVhdx, type CreateVhdxOptions, type CreateVhdxResult } from './vhdx/writer.js';
export { openVhdx, type VhdxSource, type VhdxInfo } from './vhdx/reader.js';
export { CachedBlockSource, FileBlockSource, type BlockSource, type BlockSourceKind } from './block-source.js';
export { openBlockSource } from './open-block-source.js';
export type { SparseImage } from './sparse-image.js';
