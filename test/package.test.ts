/**
 * The package as an engine consumes it: the built dist/ (made by `npm ci`
 * through `prepare`), every entry point of the exports map, and the `lcow`
 * binary. Catches what source-level tests cannot: a runtime file the build
 * does not copy, an export path that points nowhere.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ensureGuestImage } from '../src/backend/qemu/index.js';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { exports: Record<string, unknown>; bin: Record<string, string> };

describe.skipIf(!existsSync(`${root}dist/index.js`))('the built package', () => {
  it('resolves every exports-map entry point by its package name, with its types beside it', () => {
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json');
    const script = `for (const s of ${JSON.stringify(subpaths)}) { const m = await import('lcow-uvm' + s.slice(1)); if (Object.keys(m).length === 0) throw new Error('empty ' + s); } console.log('ok')`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' }).trim()).toBe('ok');
    for (const s of subpaths) {
      const e = pkg.exports[s] as { types: string; default: string };
      expect(existsSync(`${root}${e.types}`), e.types).toBe(true);
      expect(existsSync(`${root}${e.default}`), e.default).toBe(true);
    }
  });

  it("ships the non-TypeScript runtime files (the guest init script and the gcs variant's hook) in dist", () => {
    for (const f of ['init.sh', 'gcs-init.sh'])
      expect(readFileSync(`${root}dist/backend/qemu/image/${f}`, 'utf8')).toBe(readFileSync(`${root}src/backend/qemu/image/${f}`, 'utf8'));
  });

  it('runs the lcow binary: help, and the guest image it builds from dist is the one the sources build', async () => {
    const bin = `${root}${pkg.bin.lcow}`;
    expect(execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' })).toContain('lcow convert');
    const built = JSON.parse(execFileSync(process.execPath, [bin, 'image', 'build', '--json'], { encoding: 'utf8' })) as { dir: string; kernel: string };
    expect(existsSync(built.kernel)).toBe(true);
    expect(built.dir).toBe((await ensureGuestImage()).dir);
  });
});
