/**
 * The tar stream's life: the image is closed when the consumer finishes,
 * when it stops early, and when a read fails (the stream errors, no partial
 * archive ends cleanly); a file that yields fewer bytes than its inode says
 * is EBADIMAGE.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_UPPER_DIR } from '../../../src/driver/host-diff/source.js';
import { layerToTar, sandboxToTar } from '../../../src/driver/host-diff/to-tar.js';
import { isLcowError } from '../../../src/errors.js';
import { readTar } from './helpers/fixtures.js';
import { memoryFs, stat, type MemNode } from './helpers/memory-fs.js';

function tree(): Map<string, MemNode> {
  const big = Buffer.alloc(1 << 20, 3);
  return new Map<string, MemNode>([
    ['/a', { stat: stat('file', { size: big.length }), content: big }],
    ['/b', { stat: stat('file', { size: 5 }), content: Buffer.from('hello') }],
  ]);
}

async function drain(s: NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  for await (const c of s) n += (c as Buffer).length;
  return n;
}

describe('layerToTar stream lifecycle', () => {
  it('closes the image after a full read', async () => {
    const fs = memoryFs(tree());
    const n = await drain(layerToTar('x.vhd', { open: async () => fs }));
    expect(n).toBe(512 + (1 << 20) + 512 + 512 + 1024);
    expect(fs.closed).toBe(1);
  });

  it('closes the image when the consumer stops early', async () => {
    const fs = memoryFs(tree());
    const s = layerToTar('x.vhd', { open: async () => fs });
    for await (const _ of s) break; // destroys the stream
    // 'close' comes after the generator's finally (which closes the image) has run
    // (the early stop destroys it with an AbortError, so wait for 'close' itself, not once())
    if (!s.closed) await new Promise((resolve) => s.once('close', resolve));
    expect(fs.closed).toBe(1);
  });

  it('reads file bodies only as fast as the consumer takes them (bounded memory)', async () => {
    const big = Buffer.alloc(16 << 20, 9); // 4096 chunks of 4 KiB
    const fs = memoryFs(new Map<string, MemNode>([['/big', { stat: stat('file', { size: big.length }), content: big }]]));
    const s = layerToTar('x.vhd', { open: async () => fs });
    await new Promise((resolve) => s.once('readable', resolve));
    s.read(); // take one buffer, then stop consuming
    for (let i = 0; i < 200; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(fs.chunksRead).toBeGreaterThan(0);
    expect(fs.chunksRead).toBeLessThan(64); // a stream buffer and a 64 KiB batch, not 16 MiB
    s.destroy();
  });

  it('errors (and closes) when a read fails mid-file', async () => {
    const fs = memoryFs(tree());
    fs.failing.add('/a');
    await expect(drain(layerToTar('x.vhd', { open: async () => fs }))).rejects.toThrow(/injected read failure/);
    expect(fs.closed).toBe(1);
  });

  it('says EBADIMAGE when a file yields less data than its map claims', async () => {
    const t = tree();
    t.set('/b', { stat: stat('file', { size: 10 }), content: Buffer.from('hello'), regions: [{ offset: 0, length: 10 }] });
    const fs = memoryFs(t);
    await expect(drain(layerToTar('x.vhd', { open: async () => fs }))).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EBADIMAGE'));
    expect(fs.closed).toBe(1);
  });
});

describe('sandbox upper dir location', () => {
  const sandboxTree = () =>
    memoryFs(
      new Map<string, MemNode>([
        ['/upper', { stat: stat('dir') }],
        ['/upper/mine', { stat: stat('file', { size: 1 }), content: Buffer.from('m') }],
        ['/scratch', { stat: stat('dir') }],
        ['/scratch/ctr1', { stat: stat('dir') }],
        ['/scratch/ctr1/upper', { stat: stat('dir') }],
        ['/scratch/ctr1/upper/shared', { stat: stat('file', { size: 1 }), content: Buffer.from('s') }],
      ]),
    );
  const names = async (opts: { containerId?: string; upperDir?: string }) =>
    (await readTar(sandboxToTar('s.vhdx', { ...opts, open: async () => sandboxTree() }))).map((e) => e.name);

  it("follows the uvm's layout: <scratch>/upper, or <scratch>/scratch/<id>/upper for a shared scratch", async () => {
    expect(DEFAULT_UPPER_DIR).toBe('/upper');
    expect(await names({})).toEqual(['mine']);
    expect(await names({ containerId: 'ctr1' })).toEqual(['shared']);
    expect(await names({ upperDir: 'scratch/ctr1/upper' })).toEqual(['shared']);
    expect(await names({ containerId: 'nobody' })).toEqual([]); // never written: an empty diff
  });
});
