/**
 * `lcow convert` on its own: the entry of the one-file CommonJS bundle
 * (dist/cli/convert.bundle.cjs) that bin/lcow.cjs requires for `convert`
 * without going through the dispatcher. A conversion is a short-lived
 * process, and Node's ES module loader (resolving, reading and translating
 * each module, its own internal modules compiled on first use) cost ~10 ms
 * of a one-file layer's ~150 ms on this project's machine (scripts/build.mjs).
 */
import { run } from './convert.js';
import { runCommand } from './run-command.js';

export { warmUp } from './convert-warm-up.js';

export function main(args: string[]): Promise<number> {
  return runCommand(run, args);
}
