// Child process for root-lock.test.ts: opens a data root and applies a layer
// whose tar it holds half-written until the parent says "finish" on stdin,
// so the parent can try the same root while the apply is under way.
//   slow-apply-child.ts <root> <id>
// stdout: "applying <pid>" once the apply has begun, then "applied <size>".
import tar from 'tar-stream';
import { FakeBackend } from '../../../src/backend/fake/index.js';
import { LcowDriver } from '../../../src/driver/index.js';

const [root, id] = process.argv.slice(2) as [string, string];
const d = await LcowDriver.open(root, { backend: new FakeBackend() });
const pack = tar.pack();
const size = 1 << 20;
const entry = pack.entry({ name: 'data.bin', size }, (err) => {
  if (err) throw err;
  pack.finalize();
});
entry.write(Buffer.alloc(size / 2, 0x61));
process.stdin.once('data', () => entry.end(Buffer.alloc(size / 2, 0x62)));
const applied = d.applyDiff(id, '', pack as unknown as AsyncIterable<Uint8Array>);
process.stdout.write(`applying ${process.pid}\n`);
const bytes = await applied;
process.stdout.write(`applied ${bytes}\n`);
await d.cleanup();
process.stdin.destroy();
