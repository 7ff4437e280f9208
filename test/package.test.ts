/**
 * The package as an engine consumes it: a fresh build (never the checkout's
 * dist/, which may be stale or missing), every entry point of the exports map,
 * the runtime files that are not TypeScript, and the `lcow` binary doing real
 * work from the build. Catches what source-level tests cannot: a runtime file
 * the build does not copy, an export path that points nowhere, a worker script
 * that is not where the built code looks for it. The guest image built from
 * the package is checked in package.vm.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPackage, checkout, type BuiltPackage } from './helpers/built-package.js';

let built: BuiltPackage;
beforeAll(() => {
  built = buildPackage();
});
afterAll(() => built?.remove());

describe('the built package', () => {
  it('resolves every exports-map entry point by its package name, with its types beside it', () => {
    const subpaths = Object.keys(built.pkg.exports).filter((k) => k !== './package.json');
    expect(subpaths).toContain('.');
    const script = `for (const s of ${JSON.stringify(subpaths)}) { const m = await import('${built.pkg.name}' + s.slice(1)); if (Object.keys(m).length === 0) throw new Error('empty ' + s); } console.log('ok')`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: built.dir, encoding: 'utf8' }).trim()).toBe('ok');
    for (const s of subpaths) {
      const e = built.pkg.exports[s] as { types: string; default: string };
      expect(existsSync(path.join(built.dir, e.types)), `${s} types: ${e.types}`).toBe(true);
      expect(existsSync(path.join(built.dir, e.default)), `${s} default: ${e.default}`).toBe(true);
    }
  });

  it('ships every non-TypeScript runtime file under src (the guest init scripts …) in dist, byte for byte', () => {
    const src = path.join(checkout, 'src');
    const assets = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter(
      (f) => !f.endsWith('.ts') && !f.endsWith('.md') && statSync(path.join(src, f)).isFile(),
    );
    expect(assets).toContain(path.join('backend', 'qemu', 'image', 'init.sh'));
    expect(assets).toContain(path.join('backend', 'qemu', 'image', 'gcs-init.sh'));
    for (const f of assets) expect(readFileSync(path.join(built.dir, 'dist', f)), f).toEqual(readFileSync(path.join(src, f)));
  });

  it('runs the lcow binary from the build: help, a conversion, and an applyDiff in the worker thread', () => {
    expect(Object.keys(built.pkg.bin)).toEqual(['lcow']);
    expect(built.runBin('lcow', ['--help'])).toContain('lcow convert');

    const work = path.join(built.dir, 'work');
    mkdirSync(path.join(work, 'layer', 'etc'), { recursive: true });
    writeFileSync(path.join(work, 'layer', 'etc', 'hostname'), 'built\n');
    execFileSync('tar', ['-C', path.join(work, 'layer'), '-cf', path.join(work, 'layer.tar'), 'etc']);

    // `lcow convert` runs from its one-file bundle and V8's code cache for it, and its errors print as the dispatcher's do.
    expect(existsSync(path.join(built.dir, 'dist', 'cli', 'convert.bundle.cjs'))).toBe(true);
    expect(existsSync(path.join(built.dir, 'dist', 'cli', 'convert.bundle.cjs.cache'))).toBe(true);
    const missing = spawnSync(
      process.execPath,
      [path.join(built.dir, built.pkg.bin.lcow!), 'convert', path.join(work, 'missing.tar'), path.join(work, 'x.vhd')],
      {
        encoding: 'utf8',
      },
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^lcow: ENOTFOUND: /);

    const vhd = path.join(work, 'layer.vhd');
    const converted = JSON.parse(built.runBin('lcow', ['convert', path.join(work, 'layer.tar'), vhd, '--json'])) as {
      outPath: string;
      sizeBytes: number;
      entries: number;
    };
    expect(converted).toMatchObject({ outPath: vhd, sizeBytes: statSync(vhd).size, entries: 2 });

    const root = path.join(work, 'root');
    built.runBin('lcow', ['driver', 'create', '--root', root, 'base']);
    const applied = JSON.parse(built.runBin('lcow', ['driver', 'apply-diff', '--root', root, 'base', '', path.join(work, 'layer.tar')])) as {
      id: string;
      size: number;
    };
    expect(applied).toMatchObject({ id: 'base' });
    expect(applied.size).toBe(statSync(path.join(root, 'base', 'layer.vhd')).size);
  });
});
