// Child process for crash.test.ts: starts a driver operation that takes a
// while, so the parent can SIGKILL it mid-way.
//   crash-child.ts <root> apply <id> [created]   applyDiff of an endless (slowly fed) 1 GiB file
//   crash-child.ts <root> remove <id>            remove of a layer the parent filled with many files
import tar from 'tar-stream';
import { FakeBackend } from '../../../src/backend/fake/index.js';
import { LcowDriver } from '../../../src/driver/index.js';

const [root, mode, id, created] = process.argv.slice(2) as [string, string, string, string | undefined];
const d = await LcowDriver.open(root, { backend: new FakeBackend() });

if (mode === 'apply') {
  if (created === 'created') await d.create(id, '');
  const pack = tar.pack();
  const entry = pack.entry({ name: 'big', size: 1 << 30 });
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const feed = () => {
    entry.write(chunk);
    setTimeout(feed, 5);
  };
  feed();
  process.stdout.write('applying\n');
  await d.applyDiff(id, '', pack as unknown as AsyncIterable<Uint8Array>);
  process.stdout.write('finished (should not happen)\n');
} else {
  process.stdout.write('removing\n');
  await d.remove(id);
  process.stdout.write('removed\n');
}
