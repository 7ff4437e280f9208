/**
 * The "everything" layer (test/helpers/tar-fixtures richMembers: setuid,
 * sticky, pre-1970 and post-2038 times, 32-bit ids, 12/20-bit device
 * numbers, 255-byte UTF-8 names, deep paths, hard links to symlinks and
 * across directories, binary xattrs, repeated and implicit entries), written
 * by Python's tarfile, converted by convertTarToExt4 and diffed back by
 * layerToTar: Python's tarfile reads our output and sees the same objects.
 * Hard links are compared resolved (which name carries the body depends on
 * walk order, not on the source), as every tar consumer resolves them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerToTar } from '../../../src/driver/host-diff/to-tar.js';
import { convertTarToExt4 } from '../../../src/layer/index.js';
import { describeTar, gnuSparseTar, pyTar, richMembers, type OracleMember } from '../../helpers/tar-fixtures.js';
import { tmpDir } from './helpers/fixtures.js';

let work: string;
let source: OracleMember[];
let output: OracleMember[];

beforeAll(async () => {
  work = tmpDir('lcow-pyo-');
  const src = path.join(work, 'src.tar');
  pyTar(src, 'pax', richMembers());
  source = describeTar(src);
  const layer = path.join(work, 'layer.vhd');
  await convertTarToExt4(fs.createReadStream(src), layer, { whiteouts: true });
  const out = path.join(work, 'out.tar');
  await new Promise<void>((resolve, reject) => {
    const w = fs.createWriteStream(out);
    layerToTar(layer).on('error', reject).pipe(w).on('finish', resolve).on('error', reject);
  });
  output = describeTar(out);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** name → member as a consumer sees it: the last entry of a name wins, hard links resolved to their target. */
function resolvedView(members: OracleMember[]): Map<string, Omit<OracleMember, 'pax'> & { xattrs: Record<string, string> }> {
  const byName = new Map<string, OracleMember>();
  for (const m of members) byName.set(m.name, m);
  const out = new Map<string, Omit<OracleMember, 'pax'> & { xattrs: Record<string, string> }>();
  for (const [name, m0] of byName) {
    let m = m0;
    for (let hops = 0; m.type === 'hardlink' && hops < 8; hops++) m = byName.get(m.linkname) ?? m;
    const xattrs = Object.fromEntries(Object.entries(m.pax).filter(([k]) => k.startsWith('SCHILY.xattr.')));
    const { pax: _pax, sparse: _sparse, ...rest } = m;
    // Symlink permission bits mean nothing on Linux; the converter stores 0777 as the kernel does.
    if (rest.type === 'symlink') rest.mode = 0o777;
    out.set(name, { ...rest, name, xattrs });
  }
  return out;
}

describe('layerToTar read by Python tarfile', () => {
  it('has every source object with the same metadata, content and xattrs', () => {
    const want = resolvedView(source);
    const got = resolvedView(output);
    for (const [name, w] of want) {
      expect(got.get(name), name).toEqual(w);
    }
  });

  it('adds only the directories the source implied', () => {
    const want = resolvedView(source);
    const extra = [...resolvedView(output).values()].filter((m) => !want.has(m.name));
    expect(extra.map((m) => [m.name, m.type])).toEqual(
      [
        ...new Set(
          source.flatMap((m) =>
            m.name
              .split('/')
              .slice(0, -1)
              .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
          ),
        ),
      ]
        .filter((d) => !want.has(d))
        .sort()
        .map((d) => [d, 'dir']),
    );
  });
});

describe('sparse files', () => {
  it('come back with the same logical bytes (holes as zeros)', async () => {
    const src = path.join(work, 'sparse.tar');
    gnuSparseTar(src, '1.0', [
      {
        name: 'holes',
        size: 40 << 20,
        chunks: [
          { offset: 0, length: 100 },
          { offset: 20 << 20, length: 5000 },
          { offset: (40 << 20) - 10, length: 10 },
        ],
      },
      { name: 'all-hole', size: 8 << 20, chunks: [] },
    ]);
    const layer = path.join(work, 'sparse.vhd');
    await convertTarToExt4(fs.createReadStream(src), layer);
    const out = path.join(work, 'sparse-out.tar');
    await new Promise<void>((resolve, reject) => {
      layerToTar(layer).on('error', reject).pipe(fs.createWriteStream(out)).on('finish', resolve).on('error', reject);
    });
    const want = new Map(describeTar(src).map((m) => [m.name, m.sha256]));
    const got = new Map(describeTar(out).map((m) => [m.name, m.sha256]));
    expect(got).toEqual(want);
  });
});
