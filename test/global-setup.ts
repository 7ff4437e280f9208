// Runs once before the whole suite: the QEMU guest image is built here (cached
// outside the repo, keyed by a hash of its inputs) so that real-VM test files
// only boot it. Host packages were installed by `npm test`'s pretest
// (scripts/ensure-host.mjs); ensureGuestImage checks again and, as root,
// installs what is missing.
import { ensureGuestImage } from '../src/backend/qemu/index.js';

export default async function setup(): Promise<void> {
  if (process.env.LCOW_SKIP_GUEST_IMAGE === '1') return;
  await ensureGuestImage();
}
