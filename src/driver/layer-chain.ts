/**
 * layerchain.json: the parent layer directories of a layer, nearest first —
 * the same plain JSON array moby wrote, so a person can read it.
 *
 * The file stores absolute directories; reading maps each back to a layer id
 * (its last component) under the *current* root, so a data root that was
 * moved or mounted elsewhere still works.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LcowError } from '../errors.js';
import { checkLayerId, type Layout } from './layout.js';

/** The parent ids of `id`, nearest first ([] for a base layer). ENOTFOUND when the layer is missing. */
export async function readParentIds(layout: Layout, id: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.readFile(layout.chainFile(id), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new LcowError('EIO', `cannot read layer chain of ${id}`, { id }, { cause: err });
    await assertLayerDir(layout, id);
    return []; // a layer made by hand without a chain file: a base layer, like the reference
  }
  let dirs: unknown;
  try {
    dirs = JSON.parse(text);
  } catch (err) {
    throw new LcowError('EBADIMAGE', `layer chain of ${id} is not JSON`, { id, file: layout.chainFile(id) }, { cause: err });
  }
  if (!Array.isArray(dirs) || !dirs.every((d) => typeof d === 'string')) {
    throw new LcowError('EBADIMAGE', `layer chain of ${id} is not an array of directories`, { id, file: layout.chainFile(id) });
  }
  return dirs.map((d: string) => {
    const parent = path.basename(d);
    checkLayerId(parent, 'parent id in layer chain');
    return parent;
  });
}

/** The chain a child of `parent` gets: [parent dir, ...parent's chain]. */
export async function chainForChild(layout: Layout, parent: string): Promise<string[]> {
  if (parent === '') return [];
  checkLayerId(parent, 'parent id');
  const grand = await readParentIds(layout, parent).catch((err: unknown) => {
    if (err instanceof LcowError && err.code === 'ENOTFOUND') {
      throw new LcowError('ENOTFOUND', `parent layer ${parent} does not exist`, { parent });
    }
    throw err;
  });
  return [layout.dir(parent), ...grand.map((g) => layout.dir(g))];
}

/** Write the chain file into a directory (the caller's work dir: it is renamed into place whole). */
export async function writeChain(dir: string, chain: readonly string[]): Promise<void> {
  await fs.writeFile(path.join(dir, 'layerchain.json'), JSON.stringify(chain) + '\n', { mode: 0o600 });
}

async function assertLayerDir(layout: Layout, id: string): Promise<void> {
  try {
    if ((await fs.stat(layout.dir(id))).isDirectory()) return;
  } catch {
    // fall through
  }
  throw new LcowError('ENOTFOUND', `layer ${id} does not exist`, { id });
}
