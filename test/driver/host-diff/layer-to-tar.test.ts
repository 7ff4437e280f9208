/**
 * layerToTar over images e2fsprogs wrote (mkfs.ext4 -d), read through a
 * kernel loop mount: every entry type, PAX for long/unicode names, ns mtimes,
 * big ids and xattrs, hard links by inode, whiteouts and opaque dirs in the
 * overlay form → `.wh.` entries, overlay xattrs stripped, lost+found skipped.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerToTar } from '../../../src/driver/host-diff/to-tar.js';
import { buildExt4, DEFAULT_MTIME, paxMtime, readTar, sha256, tmpDir, type SpecEntry, type TarSeen } from './helpers/fixtures.js';
import { OPENERS } from './helpers/openers.js';

const longName = 'd'.repeat(60) + '/' + 'f'.repeat(80);
const longTarget = '/' + 't'.repeat(150);

const SPEC: SpecEntry[] = [
  { path: 'bin', type: 'dir' },
  { path: 'bin/sh', type: 'file', content: '#!shell\n', mode: 0o4755, uid: 1000, gid: 1001, xattrs: { 'user.note': 'hello', 'security.label': 'lbl' } },
  { path: 'bin/zsh', type: 'hardlink', target: 'bin/sh' },
  { path: 'bin/ash', type: 'hardlink', target: 'bin/sh' },
  { path: 'dev', type: 'dir', mode: 0o755 },
  { path: 'dev/null', type: 'char', major: 1, minor: 3, mode: 0o666 },
  { path: 'dev/sda', type: 'block', major: 8, minor: 0, mode: 0o660, gid: 6 },
  { path: 'dev/fifo', type: 'fifo', mode: 0o600 },
  { path: 'etc', type: 'dir', mtime: { sec: 1_600_000_000, nsec: 1 } },
  { path: 'etc/passwd', type: 'file', content: 'root:x:0:0::/root:/bin/sh\n'.repeat(500) },
  { path: 'etc/ünïcødé', type: 'file', content: 'u', uid: 3_000_000, gid: 4_000_000 },
  { path: 'etc/big', type: 'file', content: Buffer.alloc(300_000, 7), mtime: { sec: 1_234_567_890, nsec: 0 } },
  { path: 'd'.repeat(60), type: 'dir' },
  { path: longName, type: 'file', content: 'long' },
  { path: 'lnk', type: 'symlink', target: '/etc/passwd' },
  { path: 'longlink', type: 'symlink', target: longTarget },
  { path: 'gone', type: 'whiteout', uid: 0 },
  { path: 'etc/gone-too', type: 'whiteout' },
  { path: 'opq', type: 'dir', opaque: true, mode: 0o750, uid: 5, gid: 6, xattrs: { 'trusted.overlay.origin': 'xyz', 'user.keep': 'me' } },
  { path: 'opq/keep', type: 'file', content: 'kept' },
  { path: 'empty', type: 'file', content: '' },
];

let work: string;
let image: string;
beforeAll(async () => {
  work = tmpDir('lcow-l2t-');
  image = path.join(work, 'layer.vhd');
  buildExt4(image, SPEC);
  // a fixed-VHD footer after the ext4 bytes, as in a real layer.vhd: the reader must ignore it
  fs.appendFileSync(image, Buffer.alloc(512, 0xee));
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe.each(OPENERS)('layerToTar through %s', (_how, open) => {
  let entries: TarSeen[];
  beforeAll(async () => {
    entries = await readTar(layerToTar(image, { open }));
  });

  function byName(name: string): TarSeen {
    const e = entries.find((x) => x.name === name);
    if (!e) throw new Error(`no tar entry ${name}; have ${entries.map((x) => x.name).join(', ')}`);
    return e;
  }

  describe('the tar', () => {
    it('lists exactly the layer content, with whiteouts converted and lost+found skipped', () => {
      expect(entries.map((e) => e.name).sort()).toEqual(
        [
          'bin',
          'bin/ash',
          'bin/sh',
          'bin/zsh',
          'dev',
          'dev/fifo',
          'dev/null',
          'dev/sda',
          'etc',
          'etc/.wh.gone-too',
          'etc/big',
          'etc/passwd',
          'etc/ünïcødé',
          'd'.repeat(60),
          longName,
          'lnk',
          'longlink',
          '.wh.gone',
          'opq',
          'opq/.wh..wh..opq',
          'opq/keep',
          'empty',
        ].sort(),
      );
    });

    it('writes parents before children and the opaque marker right after its directory', () => {
      const names = entries.map((e) => e.name);
      for (const [i, n] of names.entries()) {
        const parent = path.posix.dirname(n);
        if (parent !== '.') expect(names.indexOf(parent)).toBeLessThan(i);
      }
      expect(names.indexOf('opq/.wh..wh..opq')).toBe(names.indexOf('opq') + 1);
    });

    it('keeps type, mode, ownership, ns mtime, bytes and xattrs of regular files', () => {
      for (const s of SPEC.filter((x) => x.type === 'file')) {
        const e = byName(s.path);
        if (e.type === 'link') continue;
        expect(e.type).toBe('file');
        expect(e.mode).toBe(s.mode ?? 0o644);
        expect([e.uid, e.gid]).toEqual([s.uid ?? 0, s.gid ?? 0]);
        expect(e.mtime).toBe(paxMtime(s.mtime ?? DEFAULT_MTIME));
        const content = Buffer.from((s as { content: string | Buffer }).content);
        expect(e.size).toBe(content.length);
        expect(e.sha256).toBe(sha256(content));
      }
      expect(byName('bin/ash').xattrs).toEqual({ 'user.note': 'hello', 'security.label': 'lbl' });
      expect(byName('etc/ünïcødé')).toMatchObject({ uid: 3_000_000, gid: 4_000_000 });
    });

    it('emits one body per inode and hard-link entries for its other names', () => {
      // sorted walk: bin/ash is seen first, so it carries the body
      expect(byName('bin/ash')).toMatchObject({ type: 'file', size: 8 });
      expect(byName('bin/sh')).toMatchObject({ type: 'link', linkname: 'bin/ash', size: 0 });
      expect(byName('bin/zsh')).toMatchObject({ type: 'link', linkname: 'bin/ash', size: 0 });
    });

    it('keeps devices, fifos, symlinks (incl. targets past 100 bytes) and directories', () => {
      expect(byName('dev/null')).toMatchObject({ type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 });
      expect(byName('dev/sda')).toMatchObject({ type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 });
      expect(byName('dev/fifo')).toMatchObject({ type: 'fifo', mode: 0o600 });
      expect(byName('lnk')).toMatchObject({ type: 'symlink', linkname: '/etc/passwd' });
      expect(byName('longlink')).toMatchObject({ type: 'symlink', linkname: longTarget });
      expect(byName('etc')).toMatchObject({ type: 'directory', mode: 0o755, mtime: '1600000000.000000001' });
    });

    it('turns whiteouts into .wh. files and opaque dirs into a marker, dropping trusted.overlay.*', () => {
      expect(byName('.wh.gone')).toMatchObject({ type: 'file', size: 0, mode: 0o600 });
      expect(byName('etc/.wh.gone-too')).toMatchObject({ type: 'file', size: 0 });
      const opq = byName('opq');
      expect(opq).toMatchObject({ type: 'directory', mode: 0o750, uid: 5, gid: 6 });
      expect(opq.xattrs).toEqual({ 'user.keep': 'me' });
      expect(byName('opq/.wh..wh..opq')).toMatchObject({ type: 'file', size: 0, mode: 0o750, uid: 5, gid: 6, mtime: opq.mtime });
    });

    it('is a tar GNU tar reads without complaint', () => {
      const out = path.join(work, 'out.tar');
      const chunks: Buffer[] = [];
      return new Promise<void>((resolve, reject) => {
        const s = layerToTar(image, { open });
        s.on('data', (c: Buffer) => chunks.push(c));
        s.on('error', reject);
        s.on('end', () => {
          fs.writeFileSync(out, Buffer.concat(chunks));
          const listing = execFileSync('tar', ['-tvf', out], { encoding: 'utf8' });
          expect(listing).toContain(longName);
          expect(listing).toContain('etc/ünïcødé');
          resolve();
        });
      });
    });
  });
});
