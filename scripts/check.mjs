#!/usr/bin/env node
// `npm run check`, the static half of `npm test`: each step in order, stopping
// at the first that fails and naming it, with the time each took (lint is the
// slow one: its type-aware rules build the whole TypeScript program).
import { spawnSync } from 'node:child_process';

const STEPS = [
  { step: 'typecheck', what: 'types of src, test, examples, bench, scripts and configs' },
  { step: 'lint', what: 'eslint with type-aware rules' },
  { step: 'format:check', what: 'prettier' },
  { step: 'deps', what: 'dependency-cruiser: layer order, index.ts boundaries, cycles' },
];

const npm = process.env.npm_execpath;
for (const { step, what } of STEPS) {
  console.log(`\n> check: ${step} (${what})`);
  const t0 = performance.now();
  // Through npm so that each step is also runnable alone, exactly as here.
  const r = npm
    ? spawnSync(process.execPath, [npm, 'run', '--silent', step], { stdio: 'inherit' })
    : spawnSync('npm', ['run', '--silent', step], { stdio: 'inherit', shell: process.platform === 'win32' });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`\ncheck: step '${step}' failed after ${secs} s (exit ${r.status ?? r.signal}); run \`npm run ${step}\` to see it alone`);
    process.exit(1);
  }
  console.log(`check: ${step} ok (${secs} s)`);
}
