// Loads a one-file CommonJS bundle (dist/cli/convert.bundle.cjs) as require()
// would, with V8's code cache for it when the build left one beside it
// (scripts/warm-convert-bundle.cjs). A conversion is a short-lived process:
// compiling the bundle and, as the conversion first calls them, its ~600
// functions is work every run repeats. The cache, written after a warm-up
// conversion, holds their bytecode: ~10 ms of a one-file layer's ~150 ms on
// this project's 2-vCPU machine (issue 11, round 7; src/layer/README.md).
//
// V8 checks a cache against its own version, its flags and the source's
// length only; the build id on the bundle's first line, repeated at the head
// of the cache, ties the two files together. A cache that does not match, or
// that V8 rejects (another Node, other V8 flags), is ignored: the bundle then
// compiles as it would without one.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, resolve } = require('node:path');
const { Script } = require('node:vm');

/** The build id line the build puts first in the bundle: `// lcow-bundle <hex>`. */
const ID_LINE = /^\/\/ lcow-bundle ([0-9a-f]+)\n/;

/**
 * @param {string} bundle the bundle
 * @param {{ produce?: boolean }} [options] produce: compile without a cache, to write one (saveCache) after a warm-up
 * @returns {{ exports: Record<string, unknown>, cache: 'used' | 'rejected' | 'none', saveCache(): void }}
 */
function loadBundle(bundle, options = {}) {
  const file = resolve(bundle);
  // Latin-1: esbuild writes every non-ASCII character outside comments as an
  // escape, so this is the same text, read as a one-byte string (a UTF-8
  // decode, and a two-byte copy should a comment hold a non-ASCII character, cost more).
  const source = readFileSync(file, 'latin1');
  const id = ID_LINE.exec(source)?.[1];
  const cacheFile = `${file}.cache`;
  const cachedData = options.produce || !id ? undefined : readCache(cacheFile, id);
  const script = new Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n})`, { filename: file, cachedData });
  /** @type {{ exports: Record<string, unknown> }} */
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
  return {
    exports: module.exports,
    cache: !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used',
    saveCache() {
      if (!id) throw new Error(`${file} has no build id line: no cache can be tied to it`);
      writeFileSync(cacheFile, Buffer.concat([Buffer.from(`${id}\n`, 'latin1'), script.createCachedData()]));
    },
  };
}

/** The cache's V8 bytes when its head names this build, else undefined. @param {string} cacheFile @param {string} id @returns {Buffer | undefined} */
function readCache(cacheFile, id) {
  let bytes;
  try {
    bytes = readFileSync(cacheFile);
  } catch {
    return undefined; // no cache: a build without one, or a copy of dist/ without it
  }
  const head = Buffer.byteLength(id) + 1;
  return bytes.length > head && bytes.toString('latin1', 0, head) === `${id}\n` ? bytes.subarray(head) : undefined;
}

module.exports = { loadBundle };
