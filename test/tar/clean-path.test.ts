import { describe, expect, it } from 'vitest';
import { cleanPath } from '../../src/tar/clean-path.js';

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
