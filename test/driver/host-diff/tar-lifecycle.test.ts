/**
 * The tar stream's life: the image is closed when the consumer finishes,
 * when it stops early, and when a read fails (the stream errors, no partial
 * archive ends cleanly); a file that yields fewer bytes than its inode says
 * is EBADIMAGE. Plus the PAX encoder's edge cases.
 */
import { describe, expect, it } from 'vitest';
import { decodePax, encodePaxRecord, paxTime } from '../../../src/driver/host-diff/pax.js';
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
    expect(fs.chunksRead).toBeLessThan(64); // a stream buffer's worth, not 16 MiB
    s.destroy();
  });

  it('errors (and closes) when a read fails mid-file', async () => {
    const fs = memoryFs(tree());
    fs.failing.add('/a');
    await expect(drain(layerToTar('x.vhd', { open: async () => fs }))).rejects.toThrow(/injected read failure/);
    expect(fs.closed).toBe(1);
  });

  it('says EBADIMAGE when a file is shorter than its inode claims', async () => {
    const t = tree();
    t.set('/b', { stat: stat('file', { size: 10 }), content: Buffer.from('hello') });
    const fs = memoryFs(t);
    await expect(drain(layerToTar('x.vhd', { open: async () => fs }))).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EBADIMAGE'));
    expect(fs.closed).toBe(1);
  });
});

describe('PAX records', () => {
  it('counts the length prefix, including across a power of ten', () => {
    for (let n = 0; n < 300; n++) {
      const rec = encodePaxRecord('k', 'v'.repeat(n));
      const len = Number(rec.toString('latin1').split(' ')[0]);
      expect(len).toBe(rec.length);
    }
  });

  it('round-trips raw bytes', () => {
    const v = Buffer.from([0, 0x0a, 0xff, 0x3d, 0x20]);
    const decoded = decodePax(Buffer.concat([encodePaxRecord('SCHILY.xattr.user.x', v), encodePaxRecord('path', 'ü/ä')]));
    expect(decoded.get('SCHILY.xattr.user.x')).toEqual(v);
    expect(decoded.get('path')?.toString()).toBe('ü/ä');
  });

  it('writes times as seconds with the fraction toward zero, as GNU tar and Go read them', () => {
    expect(paxTime(5, 0)).toBe('5');
    expect(paxTime(5, 500_000_000)).toBe('5.5');
    expect(paxTime(1_700_000_000, 1)).toBe('1700000000.000000001');
    expect(paxTime(-2, 750_000_000)).toBe('-1.25'); // -1.25 s stored as floor seconds + positive ns
    expect(paxTime(-1, 0)).toBe('-1');
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
