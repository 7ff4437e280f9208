#!/usr/bin/env node
// CommonJS on purpose: an ES module entry point is read through libuv's
// thread pool, which starts the pool before any line of it runs, and
// `lcow convert` sizes the pool (pool-size.cjs) before it starts.
// The CLI is compiled by `npm ci` (the `prepare` script) into dist/.
'use strict';
const argv = process.argv.slice(2);
require('./pool-size.cjs').preferSmallPool(argv);
import('../dist/cli/main.js')
  .then((m) => m.main(argv))
  .then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (err) => {
      console.error(err?.stack ?? String(err));
      process.exitCode = 1;
    },
  );
