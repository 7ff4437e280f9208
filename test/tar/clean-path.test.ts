import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cleanPath, cleanPathBySplitting } from '../../src/tar/clean-path.js';

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
    // A stray byte (U+DC80..U+DCFF, see byte-names.ts) is one byte on disk, not the 3 of its UTF-16 unit.
    expect(cleanPath('\udce9'.repeat(255))).toMatchObject({ ok: true });
    expect(cleanPath('\udce9'.repeat(256))).toMatchObject({ ok: false, problem: 'name-too-long' });
  });
  it('keeps names that merely contain dots', () => {
    expect(cleanPath('a/..b/...')).toEqual({ ok: true, path: 'a/..b/...' });
  });
});

describe('cleanPath on any name', () => {
  it('gives what the general split-and-join rule gives, whether or not the name takes the already-clean shortcut', () => {
    const piece = fc.constantFrom('/', '.', '..', './', 'a', 'é', '\0', 'x'.repeat(84), 'é'.repeat(85), 'y'.repeat(86), 'é'.repeat(86));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const name = pieces.join('');
        expect(cleanPath(name)).toEqual(cleanPathBySplitting(name));
      }),
      { numRuns: 3000 },
    );
  });
});
