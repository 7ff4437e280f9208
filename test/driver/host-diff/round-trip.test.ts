/**
 * Source tar (GNU tar, posix format, from a tree the kernel holds) →
 * convertTarToExt4 → layerToTar: every entry comes back with the same type,
 * mode, owner, ns mtime, size, bytes, link target, xattrs and device
 * numbers, whiteouts and opaque markers included. Then tar → layer → tar
 * again gives the same bytes: nothing is lost or invented on either side.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerToTar } from '../../../src/driver/host-diff/to-tar.js';
import { convertTarToExt4 } from '../../../src/layer/index.js';
import { buildTree, readTar, tmpDir, type SpecEntry, type TarSeen } from './helpers/fixtures.js';

const SPEC: SpecEntry[] = [
  { path: 'bin', type: 'dir', mtime: { sec: 1_500_000_000, nsec: 999_999_999 } },
  { path: 'bin/busybox', type: 'file', content: Buffer.alloc(70_000, 0x5a), mode: 0o4755, xattrs: { 'user.a': 'b', 'trusted.t': 'tv' } },
  { path: 'bin/sh', type: 'hardlink', target: 'bin/busybox' },
  { path: 'bin/ls', type: 'symlink', target: 'busybox' },
  { path: 'dev', type: 'dir' },
  { path: 'dev/console', type: 'char', major: 5, minor: 1, mode: 0o620, gid: 5 },
  { path: 'dev/loop0', type: 'block', major: 7, minor: 0 },
  { path: 'dev/pipe', type: 'fifo' },
  { path: 'etc', type: 'dir', uid: 1000, gid: 100 },
  { path: 'etc/.wh.removed', type: 'file', content: '' },
  { path: 'etc/conf', type: 'file', content: 'k=v\n', mtime: { sec: 0, nsec: 1 } },
  // a binary value (not UTF-8, with NUL and newline bytes): carried raw in PAX
  { path: 'etc/bin-xattr', type: 'file', content: 'b', xattrs: { 'trusted.bin': `base64:${Buffer.from([0, 0xff, 0x0a, 0x80, 0x3d, 1]).toString('base64')}` } },
  { path: 'var/cache', type: 'dir', mode: 0o1777 },
  { path: 'var/cache/.wh..wh..opq', type: 'file', content: '' },
  { path: 'var/cache/new', type: 'file', content: 'n' },
  { path: 'x'.repeat(120), type: 'file', content: 'long name' },
  { path: 'ünï', type: 'symlink', target: 'é'.repeat(80) },
];

let work: string;
let source: TarSeen[];
let first: Buffer;
let layer: string;

async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  work = tmpDir('lcow-rt-');
  const tree = path.join(work, 'tree');
  const img = path.join(work, 'tree.ext4');
  // the tree lives on a scratch ext4 so that ns times, devices and trusted/security xattrs are real
  execFileSync('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', img, '32M']);
  fs.mkdirSync(tree);
  execFileSync('mount', ['-o', 'loop', img, tree]);
  try {
    buildTree(tree, SPEC);
    fs.rmdirSync(path.join(tree, 'lost+found'));
    const top = fs.readdirSync(tree).sort();
    execFileSync('tar', [
      '--format=posix',
      '--xattrs',
      '--xattrs-include=*',
      '--sort=name',
      '--numeric-owner',
      '-C',
      tree,
      '-cf',
      path.join(work, 'src.tar'),
      ...top,
    ]);
  } finally {
    execFileSync('umount', [tree]);
  }
  source = await readTar(fs.createReadStream(path.join(work, 'src.tar')));
  layer = path.join(work, 'layer.vhd');
  await convertTarToExt4(fs.createReadStream(path.join(work, 'src.tar')), layer, { whiteouts: true });
  first = await collect(layerToTar(layer));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** What must survive: everything but atime/ctime (not carried) and the whiteout files' own metadata. */
function comparable(e: TarSeen) {
  const name = e.name.replace(/^\.\//, '');
  const base = path.posix.basename(name);
  if (base.startsWith('.wh.')) return { name, type: e.type, size: e.size };
  const mtime = e.mtime.replace(/\.?0+$/, (m) => (m.startsWith('.') ? '' : m));
  return { ...e, name, mtime, xattrs: e.xattrs };
}

describe('tar → layer → tar', () => {
  it('gives back every source entry unchanged, whiteouts and opaque markers included', async () => {
    const out = await readTar(fsReadable(first));
    const expected = source.map(comparable).sort((a, b) => (a.name < b.name ? -1 : 1));
    const actual = out.map(comparable).sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(actual).toEqual(expected);
  });

  it('carries a binary xattr value raw in its PAX record', () => {
    const record = Buffer.concat([Buffer.from(' SCHILY.xattr.trusted.bin='), Buffer.from([0, 0xff, 0x0a, 0x80, 0x3d, 1]), Buffer.from('\n')]);
    expect(first.indexOf(record)).toBeGreaterThan(0);
  });

  it('round-trips byte for byte: layerToTar(convert(layerToTar(layer))) = layerToTar(layer)', async () => {
    const again = path.join(work, 'again.vhd');
    await convertTarToExt4(fsReadable(first), again, { whiteouts: true });
    execFileSync('e2fsck', ['-fn', again]);
    const second = await collect(layerToTar(again));
    expect(second.length).toBe(first.length);
    expect(second.equals(first)).toBe(true);
  });
});

function fsReadable(b: Buffer): NodeJS.ReadableStream {
  const p = path.join(work, `buf-${Math.random().toString(36).slice(2)}.tar`);
  fs.writeFileSync(p, b);
  return fs.createReadStream(p);
}
