/**
 * Every class of hostile image a container can write into its sandbox (issue
 * 14's probes, each as an image e2fsprogs made and a root process patched),
 * through all five host-side verbs — diff, changes, diffSize, diffGetter,
 * walk — in a child process whose V8 heap is capped at 64 MiB: each verb
 * gives a typed error or the exact right answer, in bounded time.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCOMPAT } from '../../../src/ext4/format/features.js';
import { encodeDirectory, type DirectoryEntry } from '../../../src/ext4/format/directory.js';
import { buildExtentTree } from '../../../src/ext4/format/extents.js';
import { MAX_HELD_ENTRIES } from '../../../src/ext4/index.js';
import { INODE_FLAGS } from '../../../src/ext4/format/inode.js';
import { convertTarToExt4 } from '../../../src/layer/index.js';
import { Ext4Patch, eaInodeXattrBlock, makeTree, mkfsImage, type TreeEntry } from '../../helpers/hostile-ext4.js';
import { hexPath, runVerbs, type Outcome, type VerbResults, type VerbSpec } from './helpers/run-verbs.js';
import { tmpDir } from './helpers/fixtures.js';

let work: string;
beforeAll(() => {
  work = tmpDir('lcow-hostile-');
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

let serial = 0;
/** A tree made by Python and packed by mkfs.ext4 -d, then `patch`ed; returns the image path. */
async function image(entries: TreeEntry[], patch: (p: Ext4Patch) => Promise<void> | void = () => {}, sizeMiB = 64): Promise<string> {
  const n = serial++;
  const tree = path.join(work, `tree-${n}`);
  fs.mkdirSync(tree);
  makeTree(tree, entries);
  const file = path.join(work, `image-${n}.img`);
  mkfsImage(file, tree, sizeMiB);
  const p = Ext4Patch.load(file);
  await patch(p);
  p.save(file);
  return file;
}

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');
/** Each verb must end well within this, on a machine shared with other work. */
const BOUNDED_MS = 10_000;

function expectBad(o: Outcome<unknown>, what: string): void {
  expect('error' in o ? o.error : o, what).toMatchObject({ code: 'EBADIMAGE' });
  expect(o.ms, what).toBeLessThan(BOUNDED_MS);
}

function expectOk<T>(o: Outcome<T>, what: string): T {
  if ('error' in o) throw new Error(`${what}: ${o.error.name} ${o.error.code ?? ''} ${o.error.message}`);
  expect(o.ms, what).toBeLessThan(BOUNDED_MS);
  return o.ok;
}

function gets(r: VerbResults): Array<Outcome<{ bytes: number; sha256: string }>> {
  return expectOk(r.diffGetter, 'diffGetter');
}

const WALKS = ['diff', 'changes', 'diffSize', 'walk'] as const;

/** Every verb that walks the tree ends with `code`. */
function expectWalksRefused(r: VerbResults, code = 'EBADIMAGE'): void {
  for (const verb of WALKS) {
    expect('error' in r[verb] ? r[verb].error : r[verb], verb).toMatchObject({ code });
    expect(r[verb].ms, verb).toBeLessThan(BOUNDED_MS);
  }
}

/** Each diffGetter read: the file's content, or the error code it ends with. */
function expectGets(r: VerbResults, want: Array<string | { code: string }>): void {
  const got = gets(r);
  expect(got).toHaveLength(want.length);
  for (const [i, w] of want.entries()) {
    const g = got[i]!;
    if (typeof w === 'string') expect(expectOk(g, `get ${i}`)).toEqual({ bytes: Buffer.byteLength(w), sha256: sha(w) });
    else expect('error' in g ? g.error : g, `get ${i}`).toMatchObject(w);
  }
}

function run(spec: Omit<VerbSpec, 'kind'> & { kind?: VerbSpec['kind'] }): VerbResults {
  const r = runVerbs({ kind: 'layer', ...spec });
  expect(r.heapPeakMiB).toBeLessThan(64);
  return r;
}

describe('a directory reached twice', () => {
  const tree: TreeEntry[] = [
    { path: 'a/b/c', type: 'dir' },
    { path: 'a/b/file', type: 'file', content: 'hello' },
  ];
  const cycle = async (p: Ext4Patch, prefix = ''): Promise<void> => {
    p.setEntry(await p.lookup(`${prefix}/a/b`), 'c', { ino: await p.lookup(`${prefix}/a`), type: 'dir' });
  };

  it('a cycle (/a/b/c is /a): every walk is EBADIMAGE, a named file is still read', async () => {
    const r = run({ image: await image(tree, (p) => cycle(p)), gets: [hexPath('a/b/file'), hexPath('a/b/c/b/file')] });
    expectWalksRefused(r);
    expectGets(r, ['hello', 'hello']);
  }, 60_000);

  it('a cycle in a sandbox upper dir, and in a parent layer a sane top walks into', async () => {
    const sandbox = await image(
      tree.map((e) => ({ ...e, path: `upper/${e.path as string}` })),
      (p) => cycle(p, '/upper'),
    );
    const r = run({ image: sandbox, kind: 'sandbox' });
    for (const verb of ['diff', 'changes', 'diffSize'] as const) expectBad(r[verb], verb);

    const parent = await image(tree, (p) => cycle(p));
    const top = await image([{ path: 'a/b/c/b/c/b/new', type: 'file', content: 'n' }]);
    const withParent = run({ image: top, parents: [parent] });
    expectBad(withParent.changes, 'changes');
    expectBad(withParent.diffSize, 'diffSize');
    expectOk(withParent.diff, 'diff'); // the top itself is sane
  }, 60_000);

  it('one directory under a hundred names: EBADIMAGE at the second', async () => {
    const names = Array.from({ length: 100 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const r = run({
      image: await image([{ path: 'x/inner', type: 'file', content: 'i' }, ...names.map((n): TreeEntry => ({ path: n, type: 'file' }))], async (p) => {
        const x = await p.lookup('/x');
        for (const n of names) p.setEntry(2, n, { ino: x, type: 'dir' });
      }),
      gets: [hexPath('x/inner'), hexPath('n42/inner')],
    });
    expectWalksRefused(r);
    expectGets(r, ['i', 'i']);
  }, 60_000);
});

describe('blocks mapped more than once', () => {
  /** Sixteen extents of 32768 blocks, all over blocks 1..32768: 2 GiB of "directory" or file from a 256 MiB volume. */
  const remap = (p: Ext4Patch, ino: number, sizeBytes: bigint): void => {
    const extents = Array.from({ length: 16 }, (_, i) => ({ logical: i * 32768, physical: 1, length: 32768 }));
    const tree = buildExtentTree(extents, () => p.scratchBlock());
    for (const b of tree.blocks) p.writeBlock(b.block, b.data);
    p.setIBlock(ino, tree.root);
    p.setSize(ino, sizeBytes);
  };

  it('a directory whose extents map the same blocks again and again: EBADIMAGE before it is listed', async () => {
    const files = Array.from({ length: 50 }, (_, i): TreeEntry => ({ path: `d/f${i}`, type: 'file' }));
    const r = run({
      image: await image([...files, { path: 'keep', type: 'file', content: 'k' }], async (p) => remap(p, await p.lookup('/d'), 2n ** 31n - 4096n), 256),
      gets: [hexPath('keep'), hexPath('d/f1')],
    });
    expectWalksRefused(r);
    expectGets(r, ['k', { code: 'EBADIMAGE' }]);
  }, 60_000);

  it('a directory mapping its one block four times: EBADIMAGE', async () => {
    const r = run({
      image: await image([{ path: 'd/a', type: 'file' }], async (p) => {
        const d = await p.lookup('/d');
        const block = p.blocksOf(d)[0]!;
        const tree = buildExtentTree(
          [0, 1, 2, 3].map((logical) => ({ logical, physical: block, length: 1 })),
          () => p.scratchBlock(),
        );
        p.setIBlock(d, tree.root);
        p.setSize(d, 4n * 4096n);
      }),
    });
    expectWalksRefused(r);
  }, 60_000);

  it('a file mapping 2 GiB onto 128 MiB: its data is refused, the tree is listed exactly', async () => {
    const r = run({
      image: await image([{ path: 'f', type: 'file', content: 'x'.repeat(4096) }], async (p) => remap(p, await p.lookup('/f'), 2n ** 31n), 256),
      gets: [hexPath('f')],
    });
    expectBad(r.diff, 'diff');
    expectBad(r.diffSize, 'diffSize');
    expect(expectOk(r.changes, 'changes')).toEqual([{ path: '/f', kind: 'add' }]);
    expect(expectOk(r.walk, 'walk')).toBe(3); // /, /f, /lost+found
    expectGets(r, [{ code: 'EBADIMAGE' }]);
  }, 60_000);

  it('two files sharing their blocks: the second claim is EBADIMAGE', async () => {
    const r = run({
      image: await image(
        [
          { path: 'f1', type: 'file', content: '1'.repeat(8192) },
          { path: 'f2', type: 'file', content: '2'.repeat(8192) },
        ],
        async (p) => p.setIBlock(await p.lookup('/f2'), p.inode(await p.lookup('/f1')).iBlock),
      ),
      gets: [hexPath('f2')],
    });
    expectBad(r.diff, 'diff');
    expectBad(r.diffSize, 'diffSize');
    expect(expectOk(r.changes, 'changes')).toHaveLength(2);
    expectGets(r, ['1'.repeat(8192)]); // what its inode maps
  }, 60_000);
});

describe('extended attributes in value inodes', () => {
  const tree: TreeEntry[] = [
    { path: 'v', type: 'file', content: 'v'.repeat(65536) },
    { path: 't', type: 'file', content: 't' },
    { path: 'dd/in', type: 'file', content: 'in' },
  ];
  /** 200 entries pointing at /v, on /t and on /dd (one shared xattr block). */
  const bomb = async (p: Ext4Patch, valueSize: number): Promise<void> => {
    const v = await p.lookup('/v');
    const block = p.scratchBlock();
    p.writeBlock(
      block,
      eaInodeXattrBlock(
        p.blockSize,
        Array.from({ length: 200 }, (_, i) => ({ name: `x${String(i).padStart(3, '0')}`, valueInode: v, valueSize })),
      ),
    );
    for (const path of ['/t', '/dd']) p.setFileAcl(await p.lookup(path), block);
  };
  const check = (r: VerbResults): void => {
    // changes and diffSize read a directory's xattrs (overlay's opaque and redirect marks)
    for (const verb of ['diff', 'changes', 'diffSize'] as const) expectBad(r[verb], verb);
    expect(expectOk(r.walk, 'walk')).toBe(6); // the walk reads no xattrs: /, v, t, dd, dd/in, lost+found
    expectGets(r, ['t']);
  };

  it('value inodes on a volume without the ea_inode feature: EBADIMAGE', async () => {
    check(run({ image: await image(tree, (p) => bomb(p, 64 << 20)), gets: [hexPath('t')] }));
  }, 60_000);

  it('with the feature, a 64 MiB value (Linux sets at most 64 KiB): EBADIMAGE', async () => {
    const img = await image(tree, async (p) => {
      p.setIncompat(INCOMPAT.ea_inode);
      const v = await p.lookup('/v');
      p.setFlags(v, INODE_FLAGS.ea_inode);
      p.setSize(v, 64n << 20n);
      await bomb(p, 64 << 20);
    });
    check(run({ image: img, gets: [hexPath('t')] }));
  }, 60_000);

  it('with the feature, 200 values of 64 KiB (12.5 MiB on one inode, over the 1 MiB cap): EBADIMAGE', async () => {
    const img = await image(tree, async (p) => {
      p.setIncompat(INCOMPAT.ea_inode);
      p.setFlags(await p.lookup('/v'), INODE_FLAGS.ea_inode);
      await bomb(p, 65536);
    });
    check(run({ image: img, gets: [hexPath('t')] }));
  }, 60_000);
});

describe('names no kernel writes', () => {
  const tree: TreeEntry[] = [
    { path: 'dir/XXXXXXXXXXXXXXXXXXXXX', type: 'file', content: 'pwn' },
    { path: 'dir/zz', type: 'file', content: 'z' },
    { path: 'dir/q', type: 'file', content: 'q' },
    { path: 'ok', type: 'file', content: 'ok' },
  ];
  it.each([
    ['a traversal name with "/"', 'XXXXXXXXXXXXXXXXXXXXX', '../../../../tmp/pwned'],
    ['".." as a later entry', 'zz', '..'],
    ['"." as a later entry', 'q', '.'],
    ['a NUL byte', 'zz', 'a\0'],
  ])(
    '%s: EBADIMAGE, nothing written outside, the rest still readable',
    async (_what, from, to) => {
      const r = run({
        image: await image(tree, async (p) => p.setEntry(await p.lookup('/dir'), from, { name: to })),
        gets: [hexPath('ok'), hexPath('dir/q')],
      });
      expectWalksRefused(r);
      expectGets(r, ['ok', { code: 'EBADIMAGE' }]);
    },
    60_000,
  );
});

describe('more than a walk may hold', () => {
  /** /f, and /huge: `count` names for /f, written straight into fresh directory blocks. */
  const hugeDirectory = (count: number): Promise<string> =>
    image(
      [
        { path: 'f', type: 'file', content: 'f' },
        { path: 'huge', type: 'dir' },
      ],
      async (p) => {
        const f = await p.lookup('/f');
        const huge = await p.lookup('/huge');
        const names = Array.from({ length: count }, (_, i): DirectoryEntry => ({
          name: Buffer.from(`n${i.toString(36).padStart(7, '0')}`),
          ino: f,
          kind: 'file',
        }));
        const blocks = encodeDirectory([{ name: Buffer.from('.'), ino: huge, kind: 'dir' }, { name: Buffer.from('..'), ino: 2, kind: 'dir' }, ...names]);
        const length = blocks.length / p.blockSize;
        const start = p.scratchRun(length);
        p.writeBlock(start, blocks);
        p.setIBlock(huge, buildExtentTree([{ logical: 0, physical: start, length }], () => p.scratchBlock()).root);
        p.setSize(huge, BigInt(blocks.length));
      },
      128,
    );

  it(`a directory of ${MAX_HELD_ENTRIES + 1000} entries: ETOOBIG, within a 384 MiB heap`, async () => {
    const img = await hugeDirectory(MAX_HELD_ENTRIES + 1000);
    const r = runVerbs({ kind: 'layer', image: img, gets: [hexPath('f'), hexPath('huge/n0000001')] }, 384, 120_000);
    expectWalksRefused(r, 'ETOOBIG');
    expectGets(r, ['f', { code: 'ETOOBIG' }]);
    expect(r.heapPeakMiB).toBeLessThan(384);
    console.log(`a walk stopped at ${MAX_HELD_ENTRIES} held entries: heap peak ${r.heapPeakMiB.toFixed(0)} MiB`);
  }, 180_000);

  it('the cap counts every image walked together: a top and a parent each holding 55% of it is ETOOBIG', async () => {
    const img = await hugeDirectory(Math.ceil(MAX_HELD_ENTRIES * 0.55));
    const r = runVerbs({ kind: 'layer', image: img, parents: [img], only: ['changes', 'diffSize'] }, 384, 120_000);
    for (const verb of ['changes', 'diffSize'] as const) expect('error' in r[verb] ? r[verb].error : r[verb], verb).toMatchObject({ code: 'ETOOBIG' });
  }, 180_000);
});

describe('sizes', () => {
  it('an i_size past the volume maximum (2^63): EBADIMAGE instead of an endless stream', async () => {
    const r = run({
      image: await image(
        [
          { path: 'big', type: 'file', content: 'b'.repeat(4096) },
          { path: 'ok', type: 'file', content: 'ok' },
        ],
        async (p) => p.setSize(await p.lookup('/big'), 2n ** 63n),
      ),
      gets: [hexPath('ok'), hexPath('big')],
    });
    expectWalksRefused(r);
    expectGets(r, ['ok', { code: 'EBADIMAGE' }]);
  }, 60_000);

  it('a legal 1 TiB sparse file: a small sparse tar GNU tar extracts, its data bytes in diffSize', async () => {
    const TiB = 2 ** 40;
    const img = await image([
      {
        path: 'huge',
        type: 'sparse',
        size: TiB,
        data: [
          [0, 'head'],
          [TiB / 2, 'middle'],
          [TiB - 4, 'tail'],
        ],
      },
    ]);
    const tarOut = path.join(work, 'huge.tar');
    const r = run({ image: img, gets: [hexPath('huge')], getLimit: 1 << 20, tarOut });
    expect(expectOk(r.diff, 'diff').bytes).toBeLessThan(16 * 1024);
    expect(expectOk(r.diffSize, 'diffSize')).toBe(3 * 4096);
    expect(expectOk(r.changes, 'changes')).toEqual([{ path: '/huge', kind: 'add' }]);
    expect(expectOk(gets(r)[0]!, 'get huge')).toEqual({ bytes: 1 << 20, sha256: sha(Buffer.concat([Buffer.from('head'), Buffer.alloc((1 << 20) - 4)])) });

    expect(execFileSync('tar', ['-tvf', tarOut], { encoding: 'utf8' })).toMatch(/ 1099511627776 .* huge\n$/);
    const out = path.join(work, 'huge-out');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xf', tarOut, '-C', out]);
    const st = fs.statSync(path.join(out, 'huge'));
    expect(st.size).toBe(TiB);
    expect(st.blocks * 512).toBeLessThan(1 << 20);
    const fd = fs.openSync(path.join(out, 'huge'), 'r');
    try {
      for (const [at, text] of [
        [0, 'head'],
        [TiB / 2, 'middle'],
        [TiB - 4, 'tail'],
      ] as const) {
        const b = Buffer.alloc(text.length);
        fs.readSync(fd, b, 0, b.length, at);
        expect(b.toString()).toBe(text);
      }
    } finally {
      fs.closeSync(fd);
    }
  }, 120_000);
});

describe('legal trees that used to break', () => {
  it('3,000 levels: every verb exact, in linear time', async () => {
    const tar = path.join(work, 'deep.tar');
    execFileSync(
      'python3',
      [
        '-c',
        `
import tarfile, io, sys
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
p = ''
for i in range(3000):
    p = p + ('/' if p else '') + 'd'
    ti = tarfile.TarInfo(p); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; ti.mtime = 1700000000; t.addfile(ti)
ti = tarfile.TarInfo(p + '/leaf'); ti.size = 7; ti.mtime = 1700000000; t.addfile(ti, io.BytesIO(b'bottom\\n'))
t.close()
`,
        tar,
      ],
      { maxBuffer: 64 << 20 },
    );
    const layer = path.join(work, 'deep.vhd');
    await convertTarToExt4(fs.createReadStream(tar), layer);
    const leaf = Array.from({ length: 3000 }, () => 'd').join('/') + '/leaf';
    const tarOut = path.join(work, 'deep-out.tar');
    const r = run({ image: layer, gets: [hexPath(leaf)], tarOut });
    expectOk(r.diff, 'diff');
    const listed = execFileSync('tar', ['-tf', tarOut], { encoding: 'utf8', maxBuffer: 64 << 20 })
      .trim()
      .split('\n');
    expect(listed).toHaveLength(3001);
    expect(listed.at(-1)).toBe(leaf);
    const ch = expectOk(r.changes, 'changes');
    expect(ch).toHaveLength(3001);
    expect(ch.every((c) => c.kind === 'add')).toBe(true);
    expect(expectOk(r.diffSize, 'diffSize')).toBe(7);
    expect(expectOk(r.walk, 'walk')).toBe(3003); // the root, 3,000 dirs, the leaf, lost+found
    expectGets(r, ['bottom\n']);
    for (const verb of ['diff', 'changes', 'diffSize', 'walk'] as const) expect(r[verb].ms, verb).toBeLessThan(5_000);
  }, 120_000);

  /** Legal names a hostile author might pick: control bytes, shell syntax, bytes that are not UTF-8, the longest name. */
  const NAMES: Buffer[] = [
    Buffer.from('line\nbreak'),
    Buffer.from('carriage\rreturn'),
    Buffer.from('tab\tname'),
    Buffer.from('back\\slash'),
    Buffer.from(' leading space'),
    Buffer.from('trailing space '),
    Buffer.from('-dash-first'),
    Buffer.from('$(touch pwned)'),
    Buffer.from('`id`'),
    Buffer.from('semi;colon|pipe&amp'),
    Buffer.from('quote"double'),
    Buffer.from("quote'single"),
    Buffer.from('star*question?'),
    Buffer.from('~tilde'),
    Buffer.from('..dotdot-prefix'),
    Buffer.from('...'),
    Buffer.from([0x63, 0x61, 0x66, 0xe9]), // caf\xe9 (latin-1)
    Buffer.from([0x63, 0x61, 0x66, 0xe8]), // caf\xe8: a different file
    Buffer.from([0xff, 0xfe, 0x80]),
    Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate encoded as UTF-8: not UTF-8
    Buffer.from([0xc0, 0xaf]), // an overlong '/': not UTF-8, and not a slash
    Buffer.from([0x01, 0x02, 0x7f]),
    Buffer.from('\u202Eevil.txt'), // right-to-left override
    Buffer.from('e\u0301 combining'),
    Buffer.from('😀 emoji'),
    Buffer.from('日本語'),
    Buffer.from('x'.repeat(255)),
    Buffer.concat([Buffer.from('é'.repeat(126)), Buffer.from([0xe9, 0xe9, 0xe9])]), // 255 bytes, mixed
    Buffer.from('.wh-not-a-whiteout'),
    Buffer.from('%s%n%x'),
  ];

  it('30 hostile names: each a tar member with its exact bytes (GNU tar extracts them all, applyDiff converts them back), in changes, in diffGetter', async () => {
    expect(NAMES).toHaveLength(30);
    const img = await image(NAMES.map((n, i): TreeEntry => ({ path: Buffer.concat([Buffer.from('dir/'), n]), type: 'file', content: `#${i}` })));
    const tarOut = path.join(work, 'names.tar');
    const r = run({ image: img, gets: NAMES.map((n) => hexPath(Buffer.concat([Buffer.from('dir/'), n]))), tarOut });
    expectOk(r.diff, 'diff');
    const out = path.join(work, 'names-out');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xf', tarOut, '-C', out]);
    const extracted = fs.readdirSync(path.join(out, 'dir'), { encoding: 'buffer' });
    expect(extracted.map((b) => b.toString('hex')).sort()).toEqual(NAMES.map((b) => b.toString('hex')).sort());
    for (const [i, n] of NAMES.entries()) expect(fs.readFileSync(Buffer.concat([Buffer.from(`${out}/dir/`), n])).toString()).toBe(`#${i}`);

    // and through applyDiff's converter: the diff of the converted diff is the same bytes
    const again = path.join(work, 'names-again.vhd');
    await convertTarToExt4(fs.createReadStream(tarOut), again);
    const tarAgain = path.join(work, 'names-again.tar');
    expectOk(run({ image: again, tarOut: tarAgain, only: ['diff'] }).diff, 'diff again');
    expect(fs.readFileSync(tarAgain).equals(fs.readFileSync(tarOut))).toBe(true);

    const ch = expectOk(r.changes, 'changes');
    expect(ch).toHaveLength(31);
    expect(new Set(ch.map((c) => c.path)).size).toBe(31); // caf\xe9 and caf\xe8 stay two paths
    expect(expectOk(r.diffSize, 'diffSize')).toBe(NAMES.reduce((n, _, i) => n + `#${i}`.length, 0));
    expectGets(
      r,
      NAMES.map((_, i) => `#${i}`),
    );
  }, 60_000);
});
