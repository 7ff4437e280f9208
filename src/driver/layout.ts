/**
 * The driver's files under its data root — plain files a person can inspect:
 *
 *   <root>/<id>/layer.vhd          a read-only layer (ext4 + fixed-VHD footer)
 *   <root>/<id>/sandbox.vhdx       a read-write layer (ext4 in a dynamic VHDX)
 *   <root>/<id>/layerchain.json    parent layer dirs, nearest first
 *   <root>/cache/                  the template sandbox, the root lock
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

/** A file name's limit in bytes (NAME_MAX on Linux; NTFS counts UTF-16 units, never more than UTF-8 bytes). */
const NAME_MAX_BYTES = 255;
/** Decimal digits of the largest pid a work directory's name can carry (32 bits: Windows). */
const PID_DIGITS = 10;
/** The longest name the driver derives from an id: `<id>-applying-<pid>-<8 hex>` (workDir). */
const LONGEST_SUFFIX_BYTES = Math.max(REMOVING_SUFFIX.length, ...WORK_MARKERS.map((m) => m.length + PID_DIGITS + 1 + 8));
/** The longest layer id, in UTF-8 bytes, such that every name made from it fits a file name. */
export const MAX_LAYER_ID_BYTES = NAME_MAX_BYTES - LONGEST_SUFFIX_BYTES;
/** A UTF-16 surrogate without its partner: no file system can store it as it is. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A layer id is one plain path component that cannot be taken for a
 * leftover, and short enough in UTF-8 bytes that every name made from it
 * (work directories, `-removing`) is a legal file name.
 */
export function checkLayerId(id: string, what = 'layer id'): void {
  const bad = (why: string) => new LcowError('EINVAL', `bad ${what} ${JSON.stringify(id)}: ${why}`, { id });
  if (typeof id !== 'string' || id === '') throw bad('empty');
  if (LONE_SURROGATE.test(id)) throw bad('not valid Unicode (a lone surrogate)');
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_LAYER_ID_BYTES) throw bad(`${bytes} bytes in UTF-8; at most ${MAX_LAYER_ID_BYTES}`);
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
  /** A fresh work dir for a create/applyDiff in progress (its name's length is in LONGEST_SUFFIX_BYTES). */
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
