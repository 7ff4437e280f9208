export * from './constants.js';
export * from './kernel-cmdline.js';
export * from './compute-system.js';
export * from './modify.js';
