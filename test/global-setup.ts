// Runs once before the whole suite. The QEMU guest image is built here (cached
// outside the repo) so that real-VM test files only boot it.
export default async function setup(): Promise<void> {
  // filled in by the backend/qemu work: ensure host packages + guest image
}
