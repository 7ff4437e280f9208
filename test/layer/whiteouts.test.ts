/**
 * OCI whiteouts as a transform of the tar entry stream: `.wh.` names become
 * whiteout and opaque entries, AUFS bookkeeping is dropped, and a whiteout's
 * body (if any) is skipped by the reader.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyWhiteout, convertWhiteouts, whiteoutEntry } from '../../src/layer/whiteouts.js';
import { readTarEntries, type TarEntry } from '../../src/tar/index.js';
import { pyTar, type MemberSpec } from '../helpers/tar-fixtures.js';
import { chunked } from '../tar/collect.js';

const dir = mkdtempSync(join(tmpdir(), 'lcow-whiteouts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('classifyWhiteout', () => {
  it('maps whiteouts, opaque markers and AUFS metadata', () => {
    expect(classifyWhiteout('a/b/.wh.c')).toEqual({ kind: 'whiteout', path: 'a/b/c' });
    expect(classifyWhiteout('.wh.top')).toEqual({ kind: 'whiteout', path: 'top' });
    expect(classifyWhiteout('a/.wh..wh..opq')).toEqual({ kind: 'opaque', path: 'a' });
    expect(classifyWhiteout('.wh..wh..opq')).toEqual({ kind: 'opaque', path: '' });
    expect(classifyWhiteout('.wh..wh.plnk/1.2')).toEqual({ kind: 'none' });
    expect(classifyWhiteout('.wh..wh.aufs')).toEqual({ kind: 'aufs-meta' });
    expect(classifyWhiteout('a/.wh.')).toEqual({ kind: 'invalid' });
    expect(classifyWhiteout('a/x.wh.y')).toEqual({ kind: 'none' });
  });
});

describe('convertWhiteouts', () => {
  const members: MemberSpec[] = [
    { name: 'a/b/.wh..wh..opq', data: '' },
    { name: 'a/.wh.gone', data: 'a whiteout with a body, skipped' },
    { name: '.wh.top', data: '' },
    { name: '.wh..wh.plnk', type: 'dir' },
    { name: '.wh..wh.aufs', data: '' },
    { name: 'a', type: 'dir' },
    { name: 'a/after', data: 'still in step' },
  ];
  it('turns .wh. names into whiteouts and opaque markers, and drops AUFS metadata', async () => {
    const tar = pyTar(join(dir, 'wh.tar'), 'pax', members);
    const out: Array<[string, string]> = [];
    for await (const e of convertWhiteouts(readTarEntries(chunked(tar, 512)))) out.push([e.kind, e.path]);
    expect(out).toEqual([
      ['opaque', 'a/b'],
      ['whiteout', 'a/gone'],
      ['whiteout', 'top'],
      ['dir', 'a'],
      ['file', 'a/after'],
    ]);
  });
  it('refuses a whiteout that names nothing', async () => {
    const tar = pyTar(join(dir, 'bad.tar'), 'pax', [{ name: 'a/.wh.', data: '' }]);
    const drain = async () => {
      for await (const _ of convertWhiteouts(readTarEntries(chunked(tar, 512)))) void _;
    };
    await expect(drain()).rejects.toMatchObject({ code: 'EBADTAR', context: { entry: 'a/.wh.' } });
  });
});

describe('whiteoutEntry (the converter takes each entry through it, without an await)', () => {
  const meta = {
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: { sec: 1, nsec: 0 },
    atime: { sec: 1, nsec: 0 },
    ctime: { sec: 1, nsec: 0 },
    xattrs: new Map<string, Buffer>(),
  };
  const file = (path: string): TarEntry => ({
    kind: 'file',
    path,
    tarName: path,
    meta,
    size: 0,
    body: { async *[Symbol.asyncIterator]() {}, takeAllNow: () => Buffer.alloc(0) },
    dataOffset: 0,
  });

  it('passes an ordinary entry through as itself, and the root', () => {
    const e = file('a/b');
    expect(whiteoutEntry(e)).toBe(e);
    const root: TarEntry = { kind: 'dir', path: '', tarName: './', meta };
    expect(whiteoutEntry(root)).toBe(root);
  });

  it('turns .wh. names into whiteouts and opaque markers, drops AUFS bookkeeping, refuses a name that hides nothing', () => {
    expect(whiteoutEntry(file('a/.wh.b'))).toEqual({ kind: 'whiteout', path: 'a/b', tarName: 'a/.wh.b', meta });
    expect(whiteoutEntry(file('a/.wh..wh..opq'))).toEqual({ kind: 'opaque', path: 'a', tarName: 'a/.wh..wh..opq' });
    expect(whiteoutEntry(file('.wh..wh.aufs'))).toBeUndefined();
    expect(() => whiteoutEntry(file('a/.wh.'))).toThrow(expect.objectContaining({ code: 'EBADTAR' }));
  });
});
