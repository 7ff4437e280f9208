#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` builds too): src/ → dist/, or to
// the folder given as the first argument (test/package.test.ts builds a fresh
// copy of the package that way). The folder is emptied first, so a module
// deleted from src/ cannot linger in a build and hide a broken import or
// exports-map entry. tsc copies nothing but JavaScript, and some runtime files
// are not TypeScript (the guest's init script): every other file under src/
// (all but .ts and .md) is copied to the same place in the output.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const out = path.resolve(process.argv[2] ?? path.join(root, 'dist'));

rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out], { stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`build: tsc failed (exit ${r.status ?? r.signal})`);
  process.exit(1);
}

for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts') || entry.name.endsWith('.md')) continue;
  const from = path.join(entry.parentPath ?? entry.path, entry.name); // .path: Node < 20.12
  const to = path.join(out, path.relative(src, from));
  mkdirSync(path.dirname(to), { recursive: true });
  cpSync(from, to, { preserveTimestamps: true });
}

// `lcow convert` as one file beside its module (dist/cli/convert.bundle.js),
// which the dispatcher loads when it is there: a conversion is a short-lived
// process, and resolving and compiling the ~40 modules it needs one by one
// cost ~30 ms of CPU and ~2 MiB per run (a quarter of a small layer's time).
// errors.js stays shared with the dispatcher, so an LcowError from the bundle
// is still one (`instanceof`) where the dispatcher prints it.
const { build } = await import('esbuild');
const cli = path.join(out, 'cli');
await build({
  entryPoints: [path.join(cli, 'convert.js')],
  outfile: path.join(cli, 'convert.bundle.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'error',
  plugins: [
    {
      name: 'shared-errors',
      setup(b) {
        b.onResolve({ filter: /(^|\/)errors\.js$/ }, (args) =>
          path.resolve(args.resolveDir, args.path) === path.join(out, 'errors.js') ? { path: '../errors.js', external: true } : undefined,
        );
      },
    },
  ],
});
