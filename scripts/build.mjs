#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` builds too): src/ → dist/, or to
// the folder given as the first argument (test/package.test.ts builds a fresh
// copy of the package that way). The folder is emptied first, so a module
// deleted from src/ cannot linger in a build and hide a broken import or
// exports-map entry. tsc copies nothing but JavaScript, and some runtime files
// are not TypeScript (the guest's init script): every other file under src/
// (all but .ts and .md) is copied to the same place in the output.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

// `lcow convert` as one CommonJS file (dist/cli/convert.bundle.cjs), which
// bin/lcow.cjs loads for `convert` without the dispatcher: a conversion is a
// short-lived process, and resolving and compiling the ~40 modules it needs
// one by one cost ~30 ms of CPU and ~2 MiB per run (a quarter of a small
// layer's time); as CommonJS it also skips Node's ES module loader (~10 ms of
// a one-file layer's ~150 ms: src/cli/convert-main.ts). Its errors print
// inside the bundle (cli/run-command.ts), so it carries its own errors.js.
const { build } = await import('esbuild');
const bundle = path.join(out, 'cli', 'convert.bundle.cjs');
await build({
  entryPoints: [path.join(out, 'cli', 'convert-main.js')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  logLevel: 'error',
  // import.meta.url (log.ts resolves pino with it) has no CommonJS meaning: the bundle's own file URL.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // import() as require(): bin/load-bundle.cjs compiles the bundle through vm.Script,
  // where a dynamic import would need an experimental loader hook.
  supported: { 'dynamic-import': false },
});
// The build id line that ties V8's code cache to this bundle (bin/load-bundle.cjs), then the cache itself,
// written after a warm-up conversion in a process of its own. Best effort: without it `lcow convert` compiles as before.
const text = readFileSync(bundle, 'latin1');
writeFileSync(bundle, `// lcow-bundle ${createHash('sha256').update(text, 'latin1').digest('hex').slice(0, 32)}\n${text}`, 'latin1');
const warm = spawnSync(process.execPath, [path.join(root, 'scripts', 'warm-convert-bundle.mjs'), out], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: { ...process.env, LCOW_V8_DEFAULTS: '1' },
});
if (warm.status !== 0) console.error(`build: no code cache for lcow convert (warm-up exit ${warm.status ?? warm.signal}); it will compile at every run`);
