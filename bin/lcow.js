#!/usr/bin/env node
// The CLI is compiled by `npm ci` (the `prepare` script) into dist/.
import('../dist/cli/main.js')
  .then((m) => m.main(process.argv.slice(2)))
  .then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (err) => {
      console.error(err?.stack ?? String(err));
      process.exitCode = 1;
    },
  );
