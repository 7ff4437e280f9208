/** A read that fails in the operating system is EIO; one the image's bytes break is EBADIMAGE: never a raw error. */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ext4Image } from '../../../src/ext4/index.js';
import { MemorySource, makeTree, mkfsImage } from '../../helpers/hostile-ext4.js';
import { tempDir } from './helpers.js';

const dir = tempDir('ext4-io-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class FailingSource extends MemorySource {
  failing = false;
  override async read(offset: number, length: number): Promise<Buffer> {
    if (this.failing) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read' });
    return super.read(offset, length);
  }
}

describe('reader errors', () => {
  it('an I/O error under a walk, a stat or a read is EIO with the path', async () => {
    const tree = join(dir, 'tree');
    mkdirSync(tree);
    makeTree(tree, [{ path: 'a/b', type: 'file', content: 'x' }]);
    mkfsImage(join(dir, 'img'), tree, 8);
    const src = new FailingSource(readFileSync(join(dir, 'img')));
    const img = await Ext4Image.open(src);
    src.failing = true;
    await expect(img.stat('/a/b')).rejects.toMatchObject({ code: 'EIO', context: { path: '/a/b' } });
    await expect(img.readFile('/a/b')).rejects.toMatchObject({ code: 'EIO' });
    await expect(
      (async () => {
        for await (const _ of img.walk());
      })(),
    ).rejects.toMatchObject({ code: 'EIO' });
  });
});
