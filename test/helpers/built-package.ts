// A fresh copy of the package as npm ships it, for the package tests: src/
// built by `scripts/build.mjs` (what `npm run build` and `prepare` run) into a
// new folder, beside the other entries of package.json's "files". Never the
// checkout's dist/, which may be missing or older than the sources. The copy's
// node_modules links to the checkout's, so the package resolves its
// dependencies, and itself by name through its exports map.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const checkout = path.resolve(import.meta.dirname, '..', '..');

export interface PackageJson {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
  files: string[];
}

export interface BuiltPackage {
  dir: string;
  pkg: PackageJson;
  /** Run one of the package's bins with node; stdout as text (throws with stderr on a non-zero exit). */
  runBin(name: string, args: string[], options?: { cwd?: string }): string;
  remove(): void;
}

export function buildPackage(): BuiltPackage {
  const pkg = JSON.parse(readFileSync(path.join(checkout, 'package.json'), 'utf8')) as PackageJson;
  const dir = mkdtempSync(path.join(tmpdir(), 'lcow-package-'));
  try {
    execFileSync(process.execPath, [path.join(checkout, 'scripts', 'build.mjs'), path.join(dir, 'dist')], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`the package does not build:\n${String(e.stdout ?? '')}${String(e.stderr ?? '')}`, { cause: err });
  }
  for (const entry of pkg.files) {
    if (entry === 'dist') continue;
    const from = path.join(checkout, entry);
    if (!existsSync(from)) throw new Error(`package.json "files" names ${entry}, which does not exist`);
    cpSync(from, path.join(dir, entry), { recursive: true });
  }
  cpSync(path.join(checkout, 'package.json'), path.join(dir, 'package.json'));
  symlinkSync(path.join(checkout, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return {
    dir,
    pkg,
    runBin: (name, args, options = {}) =>
      execFileSync(process.execPath, [path.join(dir, pkg.bin[name]!), ...args], { cwd: options.cwd ?? dir, encoding: 'utf8' }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
