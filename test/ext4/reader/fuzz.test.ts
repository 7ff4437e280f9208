/**
 * Corrupt images: random byte flips in the metadata of a small real image
 * must end in an LcowError (or a correct-looking read), never a hang and
 * never a RangeError/TypeError escaping the reader.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import { Ext4Image, type Ext4BlockSource } from '../../../src/ext4/index.js';
import { run, tempDir } from './helpers.js';

class MemorySource implements Ext4BlockSource {
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.buf.length) throw new RangeError('out of range'); // the reader must wrap this
    return Buffer.from(this.buf.subarray(offset, offset + length));
  }
  async close(): Promise<void> {}
}

const dir = tempDir('ext4-fuzz-');
const images: Record<string, Buffer> = {};

beforeAll(() => {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'd', 'e'), { recursive: true });
  for (let i = 0; i < 120; i++) writeFileSync(join(tree, 'd', `file-with-a-longish-name-${i}`), Buffer.alloc(i * 37, i));
  writeFileSync(join(tree, 'big'), Buffer.alloc(70_000, 7));
  symlinkSync('x'.repeat(100), join(tree, 'longlink'));
  symlinkSync('short', join(tree, 'shortlink'));
  run('python3', ['-c', `import os; os.setxattr(${JSON.stringify(join(tree, 'big'))}, 'user.a', b'v' * 300)`]);
  for (const [name, opts] of [
    ['k1', ['-b', '1024', '-I', '256']],
    ['k4-inline', ['-b', '4096', '-O', 'inline_data']],
  ] as const) {
    const img = join(dir, `${name}.img`);
    run('mkfs.ext4', ['-q', '-F', ...opts, '-d', tree, img, '4M']);
    run('e2fsck', ['-fyD', img], { allowExit: [1] });
    images[name] = readFileSync(img);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Read everything an image offers; returns normally or throws whatever the reader threw. */
async function readAll(buf: Buffer): Promise<void> {
  const img = await Ext4Image.open(new MemorySource(buf));
  try {
    let n = 0;
    for await (const { path, stat } of img.walk()) {
      if (++n > 5000) throw new Error('walk did not end');
      const step = async (fn: () => Promise<unknown>): Promise<void> => {
        try {
          await fn();
        } catch (err) {
          if (!isLcowError(err)) throw err;
        }
      };
      await step(() => img.listXattrs(path));
      if (stat.kind === 'file' && stat.size < 4 * 1024 * 1024) await step(() => img.readFile(path));
      if (stat.kind === 'symlink') await step(() => img.readlink(path));
      if (stat.kind === 'dir') await step(() => img.readdir(path));
    }
  } finally {
    await img.close();
  }
}

describe('ext4 reader on corrupt images', () => {
  it('reads the intact images', async () => {
    for (const buf of Object.values(images)) await readAll(buf);
  });

  it('never hangs or throws a non-LcowError when metadata bytes are flipped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(images)),
        // the first 300 KiB hold the superblock, descriptors, bitmaps, inode tables and directories
        fc.array(fc.tuple(fc.integer({ min: 1024, max: 300 * 1024 - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 40 }),
        async (name, flips) => {
          const buf = Buffer.from(images[name]!);
          for (const [at, x] of flips) buf[at]! ^= x;
          try {
            await readAll(buf);
          } catch (err) {
            if (!isLcowError(err)) throw err;
            expect(['EBADIMAGE', 'EUNSUPPORTED', 'ENOTFOUND', 'EINVAL', 'ETOOBIG']).toContain(err.code);
          }
        },
      ),
      { numRuns: 400, seed: 20261123 },
    );
  }, 120_000);
});
