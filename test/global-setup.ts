// The vm project's global setup (see vitest.config.ts), once before its files:
// the QEMU guest image is built here (cached outside the repo, keyed by a hash
// of its inputs) so that real-VM test files only boot it, and the 'auto'
// accelerator is decided here (a probe VM; the verdict is remembered in the
// cache until the host reboots) so that no test file pays for the probe. Host
// packages were installed by `npm test`'s pretest (scripts/ensure-host.mjs);
// ensureGuestImage checks again and, as root, installs what is missing.
import { QemuBackend, ensureGuestImage } from '../src/backend/qemu/index.js';

export default async function setup(): Promise<void> {
  if (process.env.LCOW_SKIP_GUEST_IMAGE === '1') return;
  const image = await ensureGuestImage();
  await new QemuBackend().accel({ kernelPath: image.kernelPath, initrdPath: image.initrdPath });
  // The gcs variant too, when the run is judged by the real GCS (LCOW_GCS_BINARY).
  if (process.env.LCOW_GCS_BINARY) await ensureGuestImage({ gcsBinary: process.env.LCOW_GCS_BINARY });
}
