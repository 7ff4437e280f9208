/**
 * Files the driver makes once and copies many times, kept in `cache/`:
 *
 * - the template sandbox of the default size (moby's cached sandbox): the
 *   first createReadWrite of that size makes it — on the host, no VM — under
 *   a lock, into a temp name renamed into place; later ones copy it (a
 *   reflink where the file system can) and start no VM;
 * - an empty read-only layer: the lower layer of a sandbox that has no parent
 *   (an overlay needs at least one lower directory).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Mutex } from 'async-mutex';
import { LcowError } from '../errors.js';
import type { Layout } from './layout.js';
import { copySandboxTemplate, createSandbox } from './sandbox.js';

/** Makes an empty sandbox at `dest` (atomically); injectable so tests can count calls. */
export type SandboxMaker = (dest: string, sizeGB: number) => Promise<void>;

export const hostSandboxMaker: SandboxMaker = (dest, sizeGB) => createSandbox(dest, sizeGB);

/** Converts a layer tar into an image at `dest` (the driver's conversion workers). */
export type LayerConverter = (tar: AsyncIterable<Uint8Array>, dest: string) => Promise<{ sizeBytes: number }>;

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

export class Templates {
  private readonly sandboxLock = new Mutex();
  private readonly emptyLock = new Mutex();

  constructor(
    private readonly layout: Layout,
    private readonly makeSandbox: SandboxMaker,
    private readonly convertLayer: LayerConverter,
  ) {}

  /** A sandbox of `sizeGB` at `dest`: copied from the template for `templateSizeGB`, made fresh for other sizes. */
  async sandbox(dest: string, sizeGB: number, templateSizeGB: number): Promise<{ fromTemplate: boolean }> {
    if (sizeGB !== templateSizeGB) {
      await this.makeSandbox(dest, sizeGB);
      return { fromTemplate: false };
    }
    const template = this.layout.templateSandbox(sizeGB);
    if (!(await exists(template))) {
      // Both the maker and the copy are atomic (temp + rename): a reader never sees half a template.
      await this.sandboxLock.runExclusive(async () => {
        if (!(await exists(template))) await this.makeSandbox(template, sizeGB);
      });
    }
    await copySandboxTemplate(template, dest);
    return { fromTemplate: true };
  }

  /** The empty read-only layer image (made on first need). */
  async emptyLayer(): Promise<string> {
    const file = path.join(this.layout.cacheDir, 'empty-layer.vhd');
    if (await exists(file)) return file;
    await this.emptyLock.runExclusive(async () => {
      if (await exists(file)) return;
      // An empty tar is its two zero end-of-archive blocks.
      const { sizeBytes } = await this.convertLayer(Readable.from([Buffer.alloc(1024)]), file);
      if (sizeBytes <= 0) throw new LcowError('EIO', 'empty layer conversion produced nothing', { file });
    });
    return file;
  }
}
