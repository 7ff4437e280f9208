/**
 * `lcow image build [--force] [--json]`: build (or find cached) the QEMU guest
 * kernel + initrd and print where they are.
 */
import { ensureGuestImage } from '../backend/qemu/index.js';
import { LcowError } from '../errors.js';

export async function run(args: string[]): Promise<number> {
  let force = false;
  let json = false;
  for (const a of args) {
    if (a === '--force') force = true;
    else if (a === '--json') json = true;
    else throw new LcowError('EINVAL', `lcow image build: unknown argument '${a}' (usage: lcow image build [--force] [--json])`, { argument: a });
  }
  const image = await ensureGuestImage({ force });
  const info = {
    dir: image.dir,
    kernel: image.kernelPath,
    initrd: image.initrdPath,
    manifest: image.manifestPath,
    built: image.built,
    kernelRelease: image.manifest.kernelRelease,
  };
  if (json) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
  else {
    process.stdout.write(`${image.built ? 'built' : 'cached'}: ${image.dir}\n`);
    process.stdout.write(`kernel:   ${image.kernelPath}\ninitrd:   ${image.initrdPath}\nmanifest: ${image.manifestPath}\n`);
  }
  return 0;
}
