#!/usr/bin/env node
// CommonJS on purpose: an ES module entry point is read through libuv's
// thread pool, which starts the pool before any line of it runs, and
// `lcow convert` sizes the pool (pool-size.cjs) before it starts. For the
// same reason, and to skip Node's ES module loader, `lcow convert` runs from
// its one-file CommonJS bundle when the build made it (scripts/build.mjs),
// with V8's code cache for it (load-bundle.cjs).
// The CLI is compiled by `npm ci` (the `prepare` script) into dist/.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const argv = process.argv.slice(2);
require('./pool-size.cjs').preferSmallPool(argv);
const convertBundle = join(__dirname, '..', 'dist', 'cli', 'convert.bundle.cjs');
const done =
  argv[0] === 'convert' && existsSync(convertBundle)
    ? /** @type {(args: string[]) => Promise<number>} */ (require('./load-bundle.cjs').loadBundle(convertBundle).exports.main)(argv.slice(1))
    : import('../dist/cli/main.js').then((m) => m.main(argv));
done.then(
  (code) => {
    process.exitCode = code ?? 0;
  },
  (err) => {
    console.error(err?.stack ?? String(err));
    process.exitCode = 1;
  },
);
