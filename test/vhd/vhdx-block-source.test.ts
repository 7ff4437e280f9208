/**
 * openBlockSource: container detection (raw, fixed VHD, VHDX, dynamic VHD
 * refused) and the LRU chunk cache returning the same bytes as the file for
 * random reads across chunk boundaries.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedBlockSource, type BlockSource } from '../../src/vhd/block-source.js';
import { openBlockSource } from '../../src/vhd/open-block-source.js';
import { encodeVhdFooter } from '../../src/vhd/footer.js';

const dir = mkdtempSync(join(tmpdir(), 'block-source-'));
const MiB = 1024 * 1024;
const data = randomBytes(3 * MiB + 4096);
const raw = join(dir, 'disk.raw');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => writeFileSync(raw, data));

async function readAllOf(s: BlockSource): Promise<Buffer> {
  return s.read(0, s.size);
}

describe('openBlockSource', () => {
  it('opens a raw file as itself', async () => {
    const s = await openBlockSource(raw);
    expect(s.kind).toBe('raw');
    expect(s.size).toBe(data.length);
    expect((await readAllOf(s)).equals(data)).toBe(true);
    await s.close();
  });

  it('opens a fixed VHD without its footer', async () => {
    const vhd = join(dir, 'disk.vhd');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, vhd]);
    const s = await openBlockSource(vhd);
    expect(s.kind).toBe('vhd-fixed');
    expect(s.size).toBe(data.length);
    expect((await readAllOf(s)).equals(data)).toBe(true);
    await s.close();
  });

  it('opens a VHD whose footer the project wrote, and rejects a damaged footer with EBADIMAGE', async () => {
    const vhd = join(dir, 'ours.vhd');
    const footer = encodeVhdFooter(data.length, randomBytes(16));
    writeFileSync(vhd, Buffer.concat([data, footer]));
    const s = await openBlockSource(vhd);
    expect(s.kind).toBe('vhd-fixed');
    expect((await readAllOf(s)).equals(data)).toBe(true);
    await s.close();
    footer[100]! ^= 1;
    writeFileSync(vhd, Buffer.concat([data, footer]));
    await expect(openBlockSource(vhd)).rejects.toMatchObject({ code: 'EBADIMAGE' });
  });

  it('opens a VHDX through its BAT', async () => {
    const vhdx = join(dir, 'disk.vhdx');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
    const s = await openBlockSource(vhdx);
    expect(s.kind).toBe('vhdx');
    expect((await readAllOf(s)).equals(data)).toBe(true);
    await s.close();
  });

  it('refuses a dynamic VHD with EUNSUPPORTED and a missing file with ENOTFOUND', async () => {
    const dyn = join(dir, 'dyn.vhd');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic', raw, dyn]);
    await expect(openBlockSource(dyn)).rejects.toMatchObject({ code: 'EUNSUPPORTED' });
    await expect(openBlockSource(join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('rejects reads past the end with EBADIMAGE', async () => {
    const s = await openBlockSource(raw);
    await expect(s.read(data.length - 10, 11)).rejects.toMatchObject({ code: 'EBADIMAGE' });
    await expect(s.read(-1, 1)).rejects.toMatchObject({ code: 'EBADIMAGE' });
    await s.close();
  });
});

describe('CachedBlockSource', () => {
  it('returns the same bytes as the file for random reads', async () => {
    let innerReads = 0;
    const inner: BlockSource = {
      size: data.length,
      read: async (o, l) => {
        innerReads++;
        return Buffer.from(data.subarray(o, o + l));
      },
      close: async () => undefined,
    };
    const cache = new CachedBlockSource(inner, 4096, 8);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: data.length - 1 }), fc.integer({ min: 0, max: 20_000 }), async (offset, len) => {
        const length = Math.min(len, data.length - offset);
        const got = await cache.read(offset, length);
        expect(got.equals(data.subarray(offset, offset + length))).toBe(true);
        // a returned buffer is the caller's: scribbling on it must not poison the cache
        got.fill(0xee);
        expect((await cache.read(offset, length)).equals(data.subarray(offset, offset + length))).toBe(true);
      }),
      { numRuns: 300 },
    );
    // repeated small reads of one chunk are served from memory
    const before = innerReads;
    for (let i = 0; i < 100; i++) await cache.read(8192 + i, 16);
    expect(innerReads - before).toBeLessThanOrEqual(1);
  });
});
