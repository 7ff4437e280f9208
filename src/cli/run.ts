/**
 * `lcow run --root DIR [--opt k=v]… [--keep] [--stdin] <layer-id | image archive> -- argv…`
 *
 * Makes a sandbox on top of the image's top layer, mounts the union in a
 * utility VM and runs argv there as a container process (runc, its own
 * namespaces, no capability to mount or reach a device: driver/oci-config.ts)
 * — an argv array end to end — printing its stdout and stderr and exiting
 * with its exit status (128 + n after signal n). The sandbox is removed
 * afterwards unless --keep (its id is printed to stderr).
 *
 * An argument that names an existing layer id is used as the top layer;
 * otherwise it is read as an image archive (docker save tarball or OCI
 * layout) and imported first.
 */
import { randomBytes } from 'node:crypto';
import { LcowError } from '../errors.js';
import { LcowDriver } from '../driver/index.js';
import { parseDriverArgs, readStdin } from './driver-args.js';

const USAGE = 'usage: lcow run --root DIR [--opt lcow.key=value]… [--keep] [--stdin] <layer-id | image.tar | oci-dir> -- argv…';

async function topLayer(d: LcowDriver, ref: string): Promise<string> {
  if (await d.exists(ref)) return ref;
  const { importImage } = await import('../image/index.js');
  const { topLayerId } = await importImage(d, ref);
  return topLayerId;
}

export async function run(args: string[]): Promise<number> {
  const a = parseDriverArgs(args, [], ['--keep', '--stdin'], USAGE);
  if (a.positional.length !== 1 || a.rest.length === 0) throw new LcowError('EINVAL', USAGE, { args });
  const d = await LcowDriver.open(a.root, { options: a.opts });
  const sandbox = `run-${randomBytes(6).toString('hex')}`;
  let created = false;
  try {
    const top = await topLayer(d, a.positional[0]!);
    await d.createReadWrite(sandbox, top);
    created = true;
    const h = await d.get(sandbox);
    try {
      const r = await h.run(a.rest, a.flags.has('--stdin') ? { stdin: await readStdin() } : {});
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.signal !== undefined ? 128 + r.signal : r.exitCode;
    } finally {
      await d.put(sandbox);
    }
  } finally {
    if (created && !a.flags.has('--keep')) await d.remove(sandbox);
    else if (created) process.stderr.write(`lcow: kept sandbox ${sandbox}\n`);
    await d.cleanup();
  }
}
