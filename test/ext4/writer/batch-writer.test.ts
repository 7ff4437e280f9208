import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchWriter } from '../../../src/ext4/writer/batch-writer.js';
import { isLcowError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'batch-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('BatchWriter', () => {
  it('writes everything in order with several batches in flight', async () => {
    for (const depth of [2, 4, 8]) {
      const path = join(dir, `out-${depth}`);
      const fh = await open(path, 'w+');
      const w = new BatchWriter(fh, 4096, 8192, depth);
      const expected: Buffer[] = [Buffer.alloc(4096)];
      for (let i = 0; i < 300; i++) {
        const piece = Buffer.alloc((i * 37) % 5000, i & 0xff);
        await w.append(piece);
        expected.push(piece);
        if (i % 7 === 0) {
          const pad = (4096 - (w.position % 4096)) % 4096;
          await w.alignToBlock();
          expected.push(Buffer.alloc(pad));
        }
      }
      await w.zeros(10_000);
      expected.push(Buffer.alloc(10_000));
      await w.flush();
      await fh.close();
      expect(readFileSync(path).equals(Buffer.concat(expected)), `depth ${depth}`).toBe(true);
    }
  });

  it('a write that fails surfaces as EIO at the next batch or at flush, never unhandled', async () => {
    let writes = 0;
    const failing = {
      write: async () => {
        writes++;
        throw Object.assign(new Error('disk gone'), { code: 'EIO' });
      },
    } as unknown as FileHandle;
    const w = new BatchWriter(failing, 0, 4096, 4);
    let err: unknown;
    try {
      for (let i = 0; i < 20; i++) await w.append(Buffer.alloc(4096));
      await w.flush();
    } catch (e) {
      err = e;
    }
    expect(isLcowError(err) && err.code).toBe('EIO');
    expect(writes).toBeLessThanOrEqual(4);
  });
});
