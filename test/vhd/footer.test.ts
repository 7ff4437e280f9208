/** The fixed-VHD footer, checked against qemu-img's vpc driver. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../../src/errors.js';
import { encodeVhdFooter, parseVhdFooter, vhdGeometry } from '../../src/vhd/footer.js';

const dir = mkdtempSync(join(tmpdir(), 'vhdf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

function qemuInfo(path: string): { 'virtual-size': number; format: string } {
  return JSON.parse(execFileSync('qemu-img', ['info', '-f', 'vpc', '--output=json', path], { encoding: 'utf8' }));
}

describe('encodeVhdFooter', () => {
  it('qemu-img reads a fixed VHD with the footer and reports the exact virtual size', () => {
    for (const size of [4096 * 3, 10 * 1024 * 1024 + 4096, 3 * 1024 ** 3]) {
      const path = join(dir, `d${size}.vhd`);
      writeFileSync(path, '');
      execFileSync('truncate', ['-s', String(size), path]);
      const footer = encodeVhdFooter(size, id);
      execFileSync('sh', ['-c', 'cat >> "$1"', 'sh', path], { input: footer });
      const info = qemuInfo(path);
      expect(info.format).toBe('vpc');
      expect(info['virtual-size']).toBe(size);
    }
  });

  it('encodes the fields and round-trips through parseVhdFooter', () => {
    const f = encodeVhdFooter(128 * 1024 * 1024, id);
    expect(f.length).toBe(512);
    expect(f.toString('latin1', 0, 8)).toBe('conectix');
    const p = parseVhdFooter(f);
    expect(p).toMatchObject({
      cookie: 'conectix',
      features: 2,
      dataOffset: 0xffffffffffffffffn,
      currentSize: 128 * 1024 * 1024,
      originalSize: 128 * 1024 * 1024,
      diskType: 2,
    });
    expect(p.uniqueId.equals(id)).toBe(true);
    expect(p.geometry).toEqual(vhdGeometry(128 * 1024 * 1024));
  });

  it('computes the same CHS geometry as qemu-img for the sizes it creates', () => {
    for (const size of ['10M', '128M', '1G', '40G', '300G']) {
      const path = join(dir, `q${size}.vhd`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', path, size]);
      const tail = execFileSync('tail', ['-c', '512', path]);
      const theirs = parseVhdFooter(tail);
      expect(vhdGeometry(theirs.currentSize), size).toEqual(theirs.geometry);
      rmSync(path);
    }
  });

  it('keeps CHS geometry within the format limits', () => {
    expect(vhdGeometry(4 * 1024 ** 4)).toEqual({ cylinders: 65535, heads: 16, sectors: 255 });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), (sectors) => {
        const g = vhdGeometry(sectors * 512);
        expect(g.cylinders * g.heads * g.sectors).toBeLessThanOrEqual(Math.min(sectors, 65535 * 16 * 255));
        expect(g.cylinders).toBeLessThanOrEqual(65535);
        expect(g.heads).toBeLessThanOrEqual(16);
      }),
    );
  });

  it('parse rejects a bad checksum or cookie with EBADIMAGE', () => {
    const f = encodeVhdFooter(4096, id);
    const corrupt = Buffer.from(f);
    corrupt[100]! ^= 1;
    expect(() => parseVhdFooter(corrupt)).toThrow(expect.objectContaining({ code: 'EBADIMAGE' }));
    const badCookie = Buffer.from(f);
    badCookie.write('notvhd!!', 0, 'latin1');
    let err: unknown;
    try {
      parseVhdFooter(badCookie);
    } catch (e) {
      err = e;
    }
    expect(isLcowError(err, 'EBADIMAGE')).toBe(true);
  });

  it('rejects sizes that are not sector multiples and ids that are not 16 bytes', () => {
    expect(() => encodeVhdFooter(1000, id)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => encodeVhdFooter(4096, Buffer.alloc(3))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
