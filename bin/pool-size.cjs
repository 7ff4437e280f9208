// libuv's thread pool size for `lcow convert`, chosen by the bin before the
// pool starts. The converter keeps its main thread busy (parsing, the ext4
// metadata, the CRC-32) while reads and writes run on the pool; the pool's
// default four threads, on a machine with two cores, wake up beside it and
// take its core away. Measured on this project's 2-vCPU machine, whole
// `lcow convert --no-sync` processes A/B (21 pairs, medians): one pool thread
// instead of four, 0.969× the wall time on a node_modules tar, 0.948× on a
// /usr tar (two threads: 0.99×, noise). So the pool gets the cores the main
// thread leaves: one on two cores, two on three, three on four; from five
// cores on libuv's default (4) stands.
//
// libuv reads UV_THREADPOOL_SIZE when the pool first starts, which an ES
// module entry point does before its first line runs (it is read through the
// pool): hence a CommonJS bin (lcow.cjs) that calls this first. A value the
// user set is kept; other commands (VMs, the driver, the plugin) keep libuv's
// default. Process-wide: the library never does this.
'use strict';
const { availableParallelism } = require('node:os');

const LIBUV_DEFAULT = 4;

/** @param {number} cores @returns {number | undefined} the pool size for a converter, or undefined for libuv's default */
function poolSizeFor(cores) {
  const size = Math.max(1, cores - 1);
  return size < LIBUV_DEFAULT ? size : undefined;
}

/**
 * Sets UV_THREADPOOL_SIZE for `lcow convert` when the user has not.
 * @param {string[]} argv the command's words and arguments
 * @param {NodeJS.ProcessEnv} [env]
 * @param {number} [cores]
 * @returns {number | undefined} the size set, if any
 */
function preferSmallPool(argv, env = process.env, cores = availableParallelism()) {
  if (argv[0] !== 'convert' || env.UV_THREADPOOL_SIZE !== undefined) return undefined;
  const size = poolSizeFor(cores);
  if (size !== undefined) env.UV_THREADPOOL_SIZE = String(size);
  return size;
}

module.exports = { poolSizeFor, preferSmallPool };
