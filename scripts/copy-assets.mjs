#!/usr/bin/env node
// Part of the build: tsc compiles src/ → dist/ but copies nothing else, and
// some runtime files are not TypeScript (the guest's init script). Copy every
// such file under src/ (all but .ts and .md) to the same place under dist/.
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const dist = path.join(root, 'dist');

for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts') || entry.name.endsWith('.md')) continue;
  const from = path.join(entry.parentPath ?? entry.path, entry.name);
  const to = path.join(dist, path.relative(src, from));
  mkdirSync(path.dirname(to), { recursive: true });
  cpSync(from, to, { preserveTimestamps: true });
}
