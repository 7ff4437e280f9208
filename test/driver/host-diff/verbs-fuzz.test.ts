/**
 * Random byte flips in a sandbox image (and, for some seeds, in its parent
 * layer), through every host-side verb: diff, changes, diffSize, diffGetter
 * and the reader's walk. Whatever the flips do, each verb ends — with its
 * answer or an LcowError, never a hang, a crash or an untyped error — and a
 * diff that ends is a tar whose members stay inside the layer.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changes, diffSize } from '../../../src/driver/host-diff/changes.js';
import { diffGetter } from '../../../src/driver/host-diff/diff-getter.js';
import { ext4LayerFs } from '../../../src/driver/host-diff/ext4-layer-fs.js';
import type { LayerFsOpener } from '../../../src/driver/host-diff/source.js';
import { sandboxToTar } from '../../../src/driver/host-diff/to-tar.js';
import { isLcowError } from '../../../src/errors.js';
import { Ext4Image } from '../../../src/ext4/index.js';
import { readTarEntries } from '../../../src/tar/index.js';
import { Ext4Patch, MemorySource, makeTree, mkfsImage, type TreeEntry } from '../../helpers/hostile-ext4.js';
import { tmpDir } from './helpers/fixtures.js';

const SANDBOX: TreeEntry[] = [
  { path: 'upper/etc/passwd', type: 'file', content: 'root:x:0:0\n' },
  { path: 'upper/etc/hosts', type: 'hardlink', target: 'upper/etc/passwd' },
  { path: 'upper/etc/gone', type: 'whiteout' },
  { path: 'upper/var/cache', type: 'opaque' },
  { path: 'upper/var/cache/new', type: 'file', content: 'n'.repeat(5000) },
  { path: 'upper/bin/sh', type: 'symlink', target: 'busybox' },
  { path: 'upper/bin/long', type: 'symlink', target: 'x'.repeat(200) },
  {
    path: 'upper/sparse',
    type: 'sparse',
    size: 1 << 30,
    data: [
      [0, 'a'],
      [1 << 29, 'b'],
    ],
  },
  ...Array.from({ length: 150 }, (_, i): TreeEntry => ({ path: `upper/many/entry-with-a-longish-name-${i}`, type: 'file', content: `${i}` })),
  { path: 'upper/deep/a/b/c/d/e/f', type: 'file', content: 'deep' },
  { path: 'work/x', type: 'dir' },
];
const PARENT: TreeEntry[] = [
  { path: 'etc/passwd', type: 'file', content: 'old\n' },
  { path: 'etc/gone', type: 'file', content: 'g' },
  { path: 'var/cache/old', type: 'file', content: 'o' },
  { path: 'many/entry-with-a-longish-name-1', type: 'file', content: 'p' },
];

const dir = tmpDir('lcow-verbs-fuzz-');
let sandbox: Buffer;
let parent: Buffer;
/** The metadata bytes the verbs read from each intact image (superblock, descriptors, inodes, directories, extent and xattr blocks): where flips land. */
let sandboxRanges: Array<[number, number]>;
let parentRanges: Array<[number, number]>;

function build(name: string, entries: TreeEntry[]): Buffer {
  const tree = path.join(dir, `${name}-tree`);
  makeTree(tree, entries);
  const image = path.join(dir, `${name}.img`);
  mkfsImage(image, tree, 16);
  execFileSync('e2fsck', ['-fyD', image], { stdio: 'ignore' }); // hashed directories for the big one
  return readFileSync(image);
}

/** A memory source that notes every range read outside regular files' data blocks. */
class RecordingSource extends MemorySource {
  readonly ranges: Array<[number, number]> = [];
  constructor(
    buf: Buffer,
    private readonly dataBlocks: Set<number>,
  ) {
    super(buf);
  }
  override async read(offset: number, length: number): Promise<Buffer> {
    if (!this.dataBlocks.has(Math.floor(offset / 4096))) this.ranges.push([offset, length]);
    return super.read(offset, length);
  }
}

/** Run every verb on the intact images and keep the metadata ranges each image was read at. */
async function metadataRanges(): Promise<void> {
  const dataBlocks = async (b: Buffer): Promise<Set<number>> => {
    const img = await Ext4Image.open(new MemorySource(b));
    const patch = new Ext4Patch(b);
    const out = new Set<number>();
    for await (const e of img.walk()) if (e.stat.kind === 'file') for (const block of patch.blocksOf(e.stat.inode)) out.add(block);
    return out;
  };
  const top = new RecordingSource(sandbox, await dataBlocks(sandbox));
  const below = new RecordingSource(parent, await dataBlocks(parent));
  await allVerbs(top, below);
  const distinct = (ranges: Array<[number, number]>): Array<[number, number]> => [...new Map(ranges.map((r) => [`${r[0]}+${r[1]}`, r])).values()];
  sandboxRanges = distinct(top.ranges);
  parentRanges = distinct(below.ranges);
}

beforeAll(async () => {
  sandbox = build('sandbox', SANDBOX);
  parent = build('parent', PARENT);
  await metadataRanges();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** How the verbs ended, over the whole run: 'ok' or an error code; and the longest one image took. */
const endings = new Map<string, number>();
let slowest = 0;

/** Run one verb; an LcowError is an acceptable end, anything else fails the property. */
async function typed(what: string, fn: () => Promise<unknown>, tally = true): Promise<void> {
  let ending = 'ok';
  try {
    await fn();
  } catch (err) {
    if (!isLcowError(err)) throw new Error(`${what} threw an untyped ${(err as Error).name}: ${(err as Error).message}`, { cause: err });
    ending = err.code;
  }
  if (tally) endings.set(ending, (endings.get(ending) ?? 0) + 1);
}

async function drain(s: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of s);
}

async function allVerbs(top: MemorySource, below: MemorySource): Promise<void> {
  const open: LayerFsOpener = async (file) => ext4LayerFs(await Ext4Image.open(file === 'parent.vhd' ? below : top));
  const options = { open, kind: 'sandbox' as const };
  await typed('diff', async () => {
    const chunks: Buffer[] = [];
    for await (const c of sandboxToTar('sandbox.vhdx', { open })) chunks.push(c as Buffer);
    // What a diff that ends says is a tar this project reads back whole: names inside the layer, every header sound.
    const tar = Buffer.concat(chunks);
    try {
      for await (const e of readTarEntries(
        (async function* () {
          yield tar;
        })(),
      ))
        if (e.kind === 'file') await drain(e.body);
    } catch (err) {
      throw new Error(`the diff of a corrupted image is not a sound tar: ${(err as Error).message}`, { cause: err });
    }
  });
  await typed('changes', () => changes('sandbox.vhdx', ['parent.vhd'], options));
  await typed('diffSize', () => diffSize('sandbox.vhdx', ['parent.vhd'], options));
  await typed('diffGetter', async () => {
    const g = await diffGetter('sandbox.vhdx', options);
    try {
      for (const p of ['etc/passwd', 'var/cache/new', 'many/entry-with-a-longish-name-7', 'deep/a/b/c/d/e/f']) {
        await typed(`get ${p}`, async () => drain(await g.get(p)));
      }
    } finally {
      await g.close();
    }
  });
  await typed('walk', async () => {
    const img = await Ext4Image.open(top);
    for await (const e of img.walk()) if (e.stat.kind === 'file' && e.stat.size < 1 << 20) await typed('readFile', () => img.readFile(e.path), false);
  });
}

describe('host-side verbs on randomly corrupted sandboxes', () => {
  it('give the answer for the intact images', async () => {
    await allVerbs(new MemorySource(sandbox), new MemorySource(parent));
    const got = await changes('sandbox.vhdx', ['parent.vhd'], {
      kind: 'sandbox',
      open: async (file) => ext4LayerFs(await Ext4Image.open(new MemorySource(file === 'parent.vhd' ? parent : sandbox))),
    });
    expect(got).toContainEqual({ path: '/etc/gone', kind: 'delete' });
    expect(got).toContainEqual({ path: '/var/cache/old', kind: 'delete' });
    expect(got).toContainEqual({ path: '/etc/passwd', kind: 'modify' });
    expect(got).toContainEqual({ path: '/deep/a/b/c/d/e/f', kind: 'add' });
    // 168 objects under upper (150 files in many/, 11 directories, passwd, hosts, new, two symlinks, sparse, f; not the whiteout) and two deletes
    expect(got).toHaveLength(170);
  });

  it('never hang, crash or throw an untyped error, whatever bytes are flipped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
        async (flipParent, flips) => {
          const top = Buffer.from(sandbox);
          const below = Buffer.from(parent);
          const [buf, ranges] = flipParent ? [below, parentRanges] : [top, sandboxRanges];
          for (const [pick, at, x] of flips) {
            const [offset, length] = ranges[pick % ranges.length]!;
            buf[offset + (at % length)]! ^= x;
          }
          const t = performance.now();
          await allVerbs(new MemorySource(top), new MemorySource(below));
          slowest = Math.max(slowest, performance.now() - t);
        },
      ),
      { numRuns: 300, seed: 20261130 },
    );
    // The flips reach both outcomes: corruption the reader refuses, and corruption that still reads.
    console.log('verb endings over 300 corrupted images (9 verb calls each):', Object.fromEntries(endings), `slowest image: ${slowest.toFixed(0)} ms`);
    expect(slowest).toBeLessThan(5_000); // all nine calls on one image; typically ~50 ms
    expect(endings.get('EBADIMAGE')).toBeGreaterThan(100);
    expect(endings.get('ok')).toBeGreaterThan(150);
  }, 120_000);
});
