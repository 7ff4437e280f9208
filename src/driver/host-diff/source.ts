/**
 * A diff source: an image plus the directory inside it that holds the
 * layer's content. For a read-only `layer.vhd` that is the image root; for a
 * container's `sandbox.vhdx` it is the overlay upper directory the UVM put
 * on the sandbox's ext4 (see DEFAULT_UPPER_DIR).
 *
 * Paths handed around by the diff code are "layer paths" ('/etc/passwd');
 * `imagePath()` maps them into the image.
 */
import path from 'node:path';
import { LcowError } from '../../errors.js';
import { scratchDirs } from '../../uvm/index.js';
import { textToBytes, type ByteString } from '../../byte-names.js';
import type { HeldEntries } from '../../ext4/index.js';
import type { LayerFs, LayerRef, LayerStat } from './layer-fs.js';
import { openExt4LayerFs } from './ext4-layer-fs.js';

/**
 * Where the union mount keeps the upper directory inside a sandbox: the
 * uvm's layout (`<scratch>/upper`, or `<scratch>/scratch/<containerId>/upper`
 * when containers share a scratch, as hcsshim does), seen from the
 * sandbox's own root. moby's driver used `<mount>/upper` as well.
 */
export const DEFAULT_UPPER_DIR = scratchDirs('/').upperDir;

/** Opens an image as a LayerFs; `held` is shared by all images one operation opens (the cap on directory entries held at once). */
export type LayerFsOpener = (imageFile: string, held?: HeldEntries) => Promise<LayerFs>;

export interface SourceOptions {
  /** Overlay upper dir inside a sandbox image (default '/upper'). */
  upperDir?: string;
  /** The container whose upper dir to read in a shared scratch (→ '/scratch/<id>/upper'); ignored with upperDir. */
  containerId?: string;
  /** Force the interpretation; by default a `.vhdx` is a sandbox, anything else a layer. */
  kind?: 'layer' | 'sandbox';
  /** How to open an image file (tests inject fakes; default: the ext4 reader). */
  open?: LayerFsOpener;
}

export class DiffSource {
  constructor(
    readonly fs: LayerFs,
    /** Image directory holding the content: '/' or e.g. '/upper'. */
    readonly root: ByteString,
    readonly file: string,
  ) {}

  /** Where a layer path ('/etc/passwd') is in the image. */
  imagePath(layerPath: ByteString): ByteString {
    if (this.root === '/') return layerPath;
    return (layerPath === '/' ? this.root : this.root + layerPath) as ByteString;
  }

  /** The reference a walk hands the LayerFs for a layer path and the inode its listing gave. */
  ref(layerPath: ByteString, inode: number): LayerRef {
    return { path: this.imagePath(layerPath), inode };
  }

  /** lstat by layer path. */
  lookup(layerPath: ByteString): Promise<LayerStat | null> {
    return this.fs.lookup(this.imagePath(layerPath));
  }

  close(): Promise<void> {
    return this.fs.close();
  }
}

export function sourceKind(file: string, options: SourceOptions = {}): 'layer' | 'sandbox' {
  return options.kind ?? (path.extname(file).toLowerCase() === '.vhdx' ? 'sandbox' : 'layer');
}

export async function openDiffSource(file: string, options: SourceOptions = {}, held?: HeldEntries): Promise<DiffSource> {
  const open = options.open ?? openExt4LayerFs;
  const fs = await open(file, held);
  if (sourceKind(file, options) === 'layer') return new DiffSource(fs, '/' as ByteString, file);
  const upper = path.posix.normalize('/' + (options.upperDir ?? scratchDirs('/', options.containerId).upperDir));
  if (upper === '/') {
    await fs.close();
    throw new LcowError('EINVAL', 'the sandbox upper directory cannot be the image root', { file, upperDir: options.upperDir });
  }
  return new DiffSource(fs, textToBytes(upper), file);
}
