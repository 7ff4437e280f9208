/**
 * `lcow image import --root DIR [--opt key=value]… [--json] <docker-save.tar | oci-layout-dir | oci-layout.tar>`
 *
 * Applies the image's layers to the driver's data root (chain ids as layer
 * ids, existing layers skipped, every diff id verified) and prints the top
 * layer id — the parent to give `lcow driver create-read-write`. Per-layer
 * progress goes to stderr when it is a terminal; stdout carries only the
 * result, so the command composes in scripts.
 */
import { LcowError } from '../errors.js';
import { parseDriverArgs } from './driver-args.js';

const USAGE = 'usage: lcow image import --root DIR [--opt key=value]… [--json] <docker-save.tar | oci-layout-dir | oci-layout.tar>';

export async function run(argv: string[]): Promise<number> {
  const args = parseDriverArgs(argv, [], ['--json'], USAGE);
  if (args.positional.length !== 1) throw new LcowError('EINVAL', USAGE, { args: argv });
  const archive = args.positional[0]!;
  // Loaded lazily: the driver pulls in the VM layers, which `lcow --help` should not pay for.
  const [{ LcowDriver }, { importImage }] = await Promise.all([import('../driver/index.js'), import('../image/index.js')]);
  const driver = await LcowDriver.open(args.root, { options: args.opts });
  try {
    const tty = process.stderr.isTTY === true;
    const result = await importImage(driver, archive, {
      onProgress: (p) => {
        if (tty && p.state !== 'applying') process.stderr.write(`layer ${p.index + 1}/${p.total} ${p.layerId.slice(0, 12)} ${p.state}\n`);
      },
    });
    process.stdout.write(args.flags.has('--json') ? JSON.stringify(result) + '\n' : result.topLayerId + '\n');
    return 0;
  } finally {
    await driver.cleanup();
  }
}
