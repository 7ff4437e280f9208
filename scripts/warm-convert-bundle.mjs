#!/usr/bin/env node
// Writes V8's code cache for `lcow convert`'s bundle (bin/load-bundle.cjs):
// loads the bundle, runs its warm-up conversions (cli/convert-warm-up.ts:
// the functions a conversion calls get compiled), then saves what V8
// compiled. scripts/build.mjs runs this in its own process with
// LCOW_V8_DEFAULTS=1: V8 ties a cache to the flags in force when it is
// written, and `lcow convert` loads the bundle before it changes any
// (cli/lean-heap.ts). Usage: node scripts/warm-convert-bundle.mjs <dist folder>
import path from 'node:path';
import { loadBundle } from '../bin/load-bundle.cjs';

const dist = path.resolve(process.argv[2] ?? 'dist');
const loaded = loadBundle(path.join(dist, 'cli', 'convert.bundle.cjs'), { produce: true });
const warmUp = /** @type {() => Promise<void>} */ (loaded.exports.warmUp);
await warmUp();
loaded.saveCache();
