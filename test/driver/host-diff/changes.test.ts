/**
 * changes / diffSize over a 3-layer chain of kernel-written ext4 images:
 * adds, modifies, deletes through whiteouts (of visible, already-deleted,
 * never-existing and opaque-hidden paths), opaque directories, a file
 * replacing a directory, a whited-out directory, hard links counted once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changes, diffSize } from '../../../src/driver/host-diff/changes.js';
import { diffGetter } from '../../../src/driver/host-diff/diff-getter.js';
import { isLcowError } from '../../../src/errors.js';
import { buildExt4, tmpDir, type SpecEntry } from './helpers/fixtures.js';
import { OPENERS } from './helpers/openers.js';

const L1: SpecEntry[] = [
  { path: 'etc', type: 'dir' },
  { path: 'etc/passwd', type: 'file', content: 'root\n' },
  { path: 'etc/hosts', type: 'file', content: 'localhost\n' },
  { path: 'usr/lib', type: 'dir' },
  { path: 'usr/lib/a.so', type: 'file', content: 'a' },
  { path: 'usr/lib/b.so', type: 'file', content: 'b' },
  { path: 'var/log', type: 'dir' },
  { path: 'var/log/x.log', type: 'file', content: 'x' },
  { path: 'opt/tool', type: 'dir' },
  { path: 'opt/tool/bin', type: 'file', content: 'bin' },
  { path: 'home/u', type: 'dir' },
  { path: 'home/u/.bashrc', type: 'file', content: 'rc' },
];
const L2: SpecEntry[] = [
  { path: 'etc', type: 'dir' },
  { path: 'etc/hosts', type: 'file', content: 'localhost2\n' },
  { path: 'var/log', type: 'dir' },
  { path: 'var/log/x.log', type: 'whiteout' },
  { path: 'usr/lib', type: 'dir', opaque: true },
  { path: 'usr/lib/c.so', type: 'file', content: 'c' },
  { path: 'srv', type: 'dir' },
  { path: 'srv/data', type: 'file', content: 'data' },
];
const TOP: SpecEntry[] = [
  { path: 'etc', type: 'dir' },
  { path: 'etc/passwd', type: 'file', content: 'root\nuser\n' }, // 10
  { path: 'etc/new', type: 'file', content: 'new file!' }, // 9
  { path: 'etc/new2', type: 'hardlink', target: 'etc/new' },
  { path: 'usr/lib', type: 'dir' },
  { path: 'usr/lib/b.so', type: 'whiteout' }, // hidden by L2's opaque usr/lib: no change
  { path: 'usr/lib/c.so', type: 'whiteout' }, // delete
  { path: 'var', type: 'dir' },
  { path: 'var/log', type: 'file', content: 'was a dir' }, // 9, replaces a dir
  { path: 'var/nothing', type: 'whiteout' }, // never existed: no change
  { path: 'opt', type: 'dir', opaque: true },
  { path: 'opt/new', type: 'file', content: 'n' }, // 1
  { path: 'srv', type: 'dir' },
  { path: 'srv/data', type: 'file', content: 'data v2' }, // 7
  { path: 'home', type: 'whiteout' },
];

let work: string;
let l1: string, l2: string, top: string;

beforeAll(() => {
  work = tmpDir('lcow-chg-');
  [l1, l2, top] = (['l1', 'l2', 'top'] as const).map((n) => path.join(work, n, 'layer.vhd')) as [string, string, string];
  for (const [file, spec] of [
    [l1, L1],
    [l2, L2],
    [top, TOP],
  ] as const) {
    fs.mkdirSync(path.dirname(file));
    buildExt4(file, spec);
  }
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe.each(OPENERS)('through %s', (_how, open) => {
  describe('changes', () => {
    it('lists exactly the adds, modifies and deletes against the merged parents', async () => {
      expect(await changes(top, [l2, l1], { open })).toEqual([
        { path: '/etc', kind: 'modify' },
        { path: '/etc/new', kind: 'add' },
        { path: '/etc/new2', kind: 'add' },
        { path: '/etc/passwd', kind: 'modify' },
        { path: '/home', kind: 'delete' },
        { path: '/opt', kind: 'modify' },
        { path: '/opt/new', kind: 'add' },
        { path: '/opt/tool', kind: 'delete' },
        { path: '/srv', kind: 'modify' },
        { path: '/srv/data', kind: 'modify' },
        { path: '/usr', kind: 'modify' },
        { path: '/usr/lib', kind: 'modify' },
        { path: '/usr/lib/c.so', kind: 'delete' },
        { path: '/var', kind: 'modify' },
        { path: '/var/log', kind: 'modify' },
      ]);
    });

    it("applies the middle layer's whiteouts and opaque dir when it is the top", async () => {
      expect(await changes(l2, [l1], { open })).toEqual([
        { path: '/etc', kind: 'modify' },
        { path: '/etc/hosts', kind: 'modify' },
        { path: '/srv', kind: 'add' },
        { path: '/srv/data', kind: 'add' },
        { path: '/usr', kind: 'modify' },
        { path: '/usr/lib', kind: 'modify' },
        { path: '/usr/lib/a.so', kind: 'delete' },
        { path: '/usr/lib/b.so', kind: 'delete' },
        { path: '/usr/lib/c.so', kind: 'add' },
        { path: '/var', kind: 'modify' },
        { path: '/var/log', kind: 'modify' },
        { path: '/var/log/x.log', kind: 'delete' },
      ]);
    });

    it('reports a base layer as all adds (whiteouts of nothing change nothing), lost+found excluded', async () => {
      const got = await changes(top, [], { open });
      expect(got.every((c) => c.kind === 'add')).toBe(true);
      expect(got.map((c) => c.path)).toEqual([
        '/etc',
        '/etc/new',
        '/etc/new2',
        '/etc/passwd',
        '/opt',
        '/opt/new',
        '/srv',
        '/srv/data',
        '/usr',
        '/usr/lib',
        '/var',
        '/var/log',
      ]);
    });
  });

  describe('diffSize', () => {
    it('sums the bytes of added and modified regular files, each inode once', async () => {
      expect(await diffSize(top, [l2, l1], { open })).toBe(10 + 9 + 9 + 1 + 7);
      expect(await diffSize(l2, [l1], { open })).toBe('localhost2\n'.length + 1 + 4);
    });
  });

  describe('diffGetter', () => {
    it('streams regular files and says ENOTFOUND for missing, whiteout and non-file paths', async () => {
      const g = await diffGetter(top, { open });
      try {
        const read = async (p: string) => {
          const chunks: Buffer[] = [];
          for await (const c of await g.get(p)) chunks.push(c as Buffer);
          return Buffer.concat(chunks).toString();
        };
        expect(await read('etc/passwd')).toBe('root\nuser\n');
        expect(await read('/etc/new2')).toBe('new file!');
        expect(await read('../../etc/../srv/data')).toBe('data v2');
        for (const p of ['etc/missing', 'home', 'etc', 'usr/lib/c.so', '/']) {
          await expect(g.get(p)).rejects.toSatisfy((e: unknown) => isLcowError(e, 'ENOTFOUND'));
        }
      } finally {
        await g.close();
      }
      await expect(g.get('etc/passwd')).rejects.toSatisfy((e: unknown) => isLcowError(e, 'EINVAL'));
    });
  });
});
