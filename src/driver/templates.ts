/**
 * The file the driver makes once and copies many times, kept in `cache/`:
 * the template sandbox of the default size (moby's cached sandbox). The
 * first createReadWrite of that size makes it — on the host, no VM — under
 * a lock, into a temp name renamed into place; later ones copy it (a reflink
 * where the file system can) and start no VM. (A sandbox without parents
 * needs no empty layer under it: the container base dir is always a lower.)
 */
import { promises as fs } from 'node:fs';
import { Mutex } from 'async-mutex';
import type { Layout } from './layout.js';
import { copySandboxTemplate, createSandbox } from './sandbox.js';

/** Makes an empty sandbox at `dest` (atomically); injectable so tests can count calls. */
export type SandboxMaker = (dest: string, sizeGB: number) => Promise<void>;

export const hostSandboxMaker: SandboxMaker = (dest, sizeGB) => createSandbox(dest, sizeGB);

async function exists(file: string): Promise<boolean> {
  return fs.stat(file).then(
    () => true,
    () => false,
  );
}

export class Templates {
  private readonly sandboxLock = new Mutex();

  constructor(
    private readonly layout: Layout,
    private readonly makeSandbox: SandboxMaker,
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
}
