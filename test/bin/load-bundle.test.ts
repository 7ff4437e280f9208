/**
 * `lcow convert` loads its one-file bundle with V8's code cache
 * (bin/load-bundle.cjs): a cache is used only with the bundle it was made
 * for, a stale or rejected one is ignored, and the build's own cache is
 * accepted by the Node that runs the bin (each load in a child process:
 * V8 keeps compiled scripts per process, which would hide a bad cache).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const loader = join(repo, 'bin/load-bundle.cjs');
const dir = mkdtempSync(join(tmpdir(), 'lcow-load-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Loads `bundle` in a child (optionally writing its cache after calling it); prints the cache state and the bundle's answer. */
function load(bundle: string, produce = false): { cache: string; answer: unknown } {
  const script = `
const l = require(${JSON.stringify(loader)}).loadBundle(${JSON.stringify(bundle)}, { produce: ${produce} });
const answer = l.exports.answer();
if (${produce}) l.saveCache();
process.stdout.write(JSON.stringify({ cache: l.cache, answer }));
`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { cache: string; answer: unknown };
}

const BODY = `const { sep } = require('node:path');
module.exports = { answer: () => [__filename.endsWith('toy.cjs'), sep, typeof module.exports] };
`;

describe('bin/load-bundle.cjs', () => {
  const toy = join(dir, 'toy.cjs');

  it('runs a bundle as CommonJS, writes its cache after a warm-up and uses it in the next process', () => {
    writeFileSync(toy, `// lcow-bundle 0123abcd\n${BODY}`);
    expect(load(toy)).toEqual({ cache: 'none', answer: [true, '/', 'object'] });
    expect(load(toy, true).cache).toBe('none');
    expect(readFileSync(`${toy}.cache`).subarray(0, 9).toString()).toBe('0123abcd\n');
    expect(load(toy)).toEqual({ cache: 'used', answer: [true, '/', 'object'] });
  });

  it('ignores a cache made for another build of the bundle, and one V8 rejects', () => {
    writeFileSync(toy, `// lcow-bundle 0123abcd\n${BODY}`);
    load(toy, true);
    // Same length, another build id: V8 alone would take the cache (it checks the length only).
    writeFileSync(toy, `// lcow-bundle 4567abcd\n${BODY}`);
    expect(load(toy)).toEqual({ cache: 'none', answer: [true, '/', 'object'] });
    // The right id over bytes V8 cannot use.
    writeFileSync(`${toy}.cache`, Buffer.concat([Buffer.from('4567abcd\n'), Buffer.alloc(4096, 1)]));
    expect(load(toy)).toEqual({ cache: 'rejected', answer: [true, '/', 'object'] });
    // No id line: no cache is looked for.
    writeFileSync(toy, BODY);
    expect(load(toy).cache).toBe('none');
  });

  it.skipIf(!existsSync(join(repo, 'dist/cli/convert.bundle.cjs.cache')))('the build’s cache for lcow convert is accepted by this Node', () => {
    const script = `process.stdout.write(require(${JSON.stringify(loader)}).loadBundle(${JSON.stringify(join(repo, 'dist/cli/convert.bundle.cjs'))}).cache)`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(r.stdout, r.stderr).toBe('used');
  });
});
