import { describe, expect, it } from 'vitest';
import { cleanPath } from '../../../src/ext4/tar/strip/clean-path.js';
import { classifyWhiteout } from '../../../src/ext4/tar/whiteout.js';

describe('cleanPath', () => {
  it('normalises the harmless forms', () => {
    expect(cleanPath('./etc//passwd')).toEqual({ ok: true, path: 'etc/passwd' });
    expect(cleanPath('usr/./lib/')).toEqual({ ok: true, path: 'usr/lib' });
    expect(cleanPath('./')).toEqual({ ok: true, path: '' });
    expect(cleanPath('.')).toEqual({ ok: true, path: '' });
    expect(cleanPath('.//etc')).toEqual({ ok: true, path: 'etc' });
  });
  it('rejects absolute paths, .. anywhere, NUL, and over-long components', () => {
    expect(cleanPath('/etc/passwd')).toMatchObject({ ok: false, problem: 'absolute' });
    expect(cleanPath('a/../b')).toMatchObject({ ok: false, problem: 'dotdot' });
    expect(cleanPath('..')).toMatchObject({ ok: false, problem: 'dotdot' });
    expect(cleanPath('a/b/..')).toMatchObject({ ok: false, problem: 'dotdot' });
    expect(cleanPath('a\0b')).toMatchObject({ ok: false, problem: 'nul' });
    expect(cleanPath('é'.repeat(128))).toMatchObject({ ok: false, problem: 'name-too-long' });
    expect(cleanPath('é'.repeat(127) + 'x')).toMatchObject({ ok: true });
  });
  it('keeps names that merely contain dots', () => {
    expect(cleanPath('a/..b/...')).toEqual({ ok: true, path: 'a/..b/...' });
  });
});

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
