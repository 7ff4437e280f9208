/**
 * lcow-uvm: Linux utility VMs for an LCOW engine, and the LCOW storage
 * driver on them. Each part is also its own entry point (lcow-uvm/tar,
 * lcow-uvm/ext4, lcow-uvm/vhd, lcow-uvm/layer, lcow-uvm/backend,
 * lcow-uvm/uvm, lcow-uvm/svm, lcow-uvm/driver, lcow-uvm/image,
 * lcow-uvm/plugin); the tar codec is only there, not here.
 */
export { LcowError, isLcowError, type LcowErrorCode } from './errors.js';
// Any pino logger fits `Logger`; pass one in `logger` options to see what the library does.
export { silentLogger, type Logger } from './log.js';
export * from './ext4/index.js';
export * from './vhd/index.js';
export * from './layer/index.js';
export * from './backend/index.js';
export * from './uvm/index.js';
export * from './svm/index.js';
export * from './driver/index.js';
export * from './image/index.js';
export * from './plugin/index.js';
