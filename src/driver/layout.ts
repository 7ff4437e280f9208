/**
 * The driver's files under its data root — plain files a person can inspect:
 *
 *   <root>/<id>/layer.vhd          a read-only layer (ext4 + fixed-VHD footer)
 *   <root>/<id>/sandbox.vhdx       a read-write layer (ext4 in a dynamic VHDX)
 *   <root>/<id>/layerchain.json    parent layer dirs, nearest first
 *   <root>/cache/                  the template sandbox and the empty layer
 *
 * Crash leftovers carry a marker in their name so that open/cleanup can find
 * them and no reader ever mistakes them for a layer:
 *
 *   <id>-removing                  a remove in progress (rename, then delete)
 *   <id>-creating-<nonce>          a create being assembled (rename into place)
 *   <id>-applying-<nonce>          an applyDiff converting (its layer.vhd is renamed in)
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LcowError } from '../errors.js';

export const LAYER_FILE = 'layer.vhd';
export const SANDBOX_FILE = 'sandbox.vhdx';
export const CHAIN_FILE = 'layerchain.json';
export const CACHE_DIR = 'cache';
export const REMOVING_SUFFIX = '-removing';
const WORK_MARKERS = ['-creating-', '-applying-'] as const;
const RESERVED = new Set([CACHE_DIR, '.', '..']);

export type WorkKind = 'creating' | 'applying';

/** A layer id is one plain path component that cannot be taken for a leftover. */
export function checkLayerId(id: string, what = 'layer id'): void {
  const bad = (why: string) => new LcowError('EINVAL', `bad ${what} ${JSON.stringify(id)}: ${why}`, { id });
  if (typeof id !== 'string' || id === '') throw bad('empty');
  if (id.length > 200) throw bad('longer than 200 characters');
  if (/[/\\\0]/.test(id)) throw bad('contains a path separator or NUL');
  if (RESERVED.has(id) || id.startsWith('.')) throw bad('reserved name');
  if (id.endsWith(REMOVING_SUFFIX) || WORK_MARKERS.some((m) => id.includes(m))) throw bad('looks like a crash leftover');
}

export class Layout {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  dir(id: string): string {
    return path.join(this.root, id);
  }
  layerFile(id: string): string {
    return path.join(this.dir(id), LAYER_FILE);
  }
  sandboxFile(id: string): string {
    return path.join(this.dir(id), SANDBOX_FILE);
  }
  chainFile(id: string): string {
    return path.join(this.dir(id), CHAIN_FILE);
  }
  removingDir(id: string): string {
    return path.join(this.root, id + REMOVING_SUFFIX);
  }
  /** A fresh work dir for a create/applyDiff in progress. */
  workDir(id: string, kind: WorkKind): string {
    return path.join(this.root, `${id}-${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
  }
  get cacheDir(): string {
    return path.join(this.root, CACHE_DIR);
  }
  /** The template sandbox of one size (only the driver's default size is cached). */
  templateSandbox(sizeGB: number): string {
    return path.join(this.cacheDir, `sandbox-${sizeGB}gb.vhdx`);
  }

  /** What a directory entry of the root is. */
  classify(name: string): 'layer' | 'removing' | 'work' | 'reserved' {
    if (name === CACHE_DIR) return 'reserved';
    if (name.endsWith(REMOVING_SUFFIX)) return 'removing';
    if (WORK_MARKERS.some((m) => name.includes(m))) return 'work';
    return 'layer';
  }
}
