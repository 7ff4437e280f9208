/**
 * The kernel's view: loop-mount a written image read-only and compare
 * what stat(2), readlink(2), getxattr(2) and read(2) return with the
 * entries (needs root, which this test host has).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerEntry, Timestamp } from '../../../src/ext4/index.js';
import { TempDir, dir, expectFsckClean, file, hardlink, hasRoot, meta, symlink, withMount, writeImage } from './helpers.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());

/** %X.%x-style fields from GNU stat: type, mode, uid, gid, size, links, rdev, and the 4 times with ns. */
const KSTAT_FIELDS = ['type', 'mode', 'uid', 'gid', 'size', 'links', 'rdev', 'atime', 'mtime', 'ctime', 'btime', 'ino'] as const;
function kstat(path: string): Record<(typeof KSTAT_FIELDS)[number], string> {
  const out = execFileSync('stat', ['--format', '%F|%a|%u|%g|%s|%h|%Hr:%Lr|%X.%.9X|%Y.%.9Y|%Z.%.9Z|%W.%.9W|%i', path], { encoding: 'utf8' }).trim();
  const values = out.split('|');
  if (values.length !== KSTAT_FIELDS.length) throw new Error(`unexpected stat output: ${out}`);
  return Object.fromEntries(KSTAT_FIELDS.map((k, i) => [k, values[i]])) as Record<(typeof KSTAT_FIELDS)[number], string>;
}

/** atime/mtime/ctime in integer nanoseconds as lstat(2) returns them (negative before 1970). */
function nsTimes(path: string): { atime: bigint; mtime: bigint; ctime: bigint } {
  const out = execFileSync('python3', ['-c', 'import os,sys; s=os.lstat(sys.argv[1]); print(s.st_atime_ns, s.st_mtime_ns, s.st_ctime_ns)', path], {
    encoding: 'utf8',
  });
  const [atime, mtime, ctime] = out
    .trim()
    .split(' ')
    .map((v) => BigInt(v));
  if (atime === undefined || mtime === undefined || ctime === undefined) throw new Error(`unexpected output: ${out}`);
  return { atime, mtime, ctime };
}

const ns = (t: Timestamp) => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);

function xattr(path: string, name: string): Buffer {
  const hex = execFileSync(
    'python3',
    ['-c', 'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).hex())', path, name],
    { encoding: 'utf8' },
  );
  return Buffer.from(hex, 'hex');
}

describe.runIf(hasRoot())('Ext4Writer images through the kernel', () => {
  it('the kernel reads back types, modes, owners, sizes, links, devices, xattrs and nanosecond times', async () => {
    const image = tmp.file('k.img');
    const pre1970: Timestamp = { sec: -86_400 * 365 * 30, nsec: 123_456_789 };
    const post2038: Timestamp = { sec: 2 ** 31 + 86_400 * 365 * 30, nsec: 987_654_321 };
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const entries: LayerEntry[] = [
      dir('d', { mode: 0o2755, uid: 70000, gid: 80000 }),
      file('d/old', 'old times', { mtime: pre1970, atime: post2038, ctime: pre1970, crtime: post2038, mode: 0o4711, uid: 4_294_967_294, gid: 65536 }),
      file('d/cap', 'cap', {
        xattrs: new Map([
          ['security.capability', cap],
          ['user.big', Buffer.alloc(2000, 0xee)],
        ]),
      }),
      symlink('d/long', 'x'.repeat(300)),
      hardlink('other/old-link', 'd/old'),
      { kind: 'char', path: 'dev/tty', tarName: 'dev/tty', major: 5, minor: 0, meta: meta({ mode: 0o666 }) },
      { kind: 'block', path: 'dev/huge', tarName: 'dev/huge', major: 4000, minor: 1_000_000, meta: meta({ mode: 0o600 }) },
      { kind: 'whiteout', path: 'd/gone', tarName: 'd/.wh.gone', meta: meta() },
      { kind: 'opaque', path: 'd', tarName: 'd/.wh..wh..opq' },
    ];
    await writeImage(image, entries);
    expectFsckClean(image);
    await withMount(image, (m) => {
      const d = kstat(`${m}/d`);
      expect([d.type, d.mode, d.uid, d.gid]).toEqual(['directory', '2755', '70000', '80000']);
      expect(xattr(`${m}/d`, 'trusted.overlay.opaque').toString()).toBe('y');
      const old = kstat(`${m}/d/old`);
      expect([old.type, old.mode, old.uid, old.gid, old.size, old.links]).toEqual(['regular file', '4711', '4294967294', '65536', '9', '2']);
      expect(nsTimes(`${m}/d/old`)).toEqual({ atime: ns(post2038), mtime: ns(pre1970), ctime: ns(pre1970) });
      expect(old.btime.split('.')[0]).toBe(String(post2038.sec)); // statx birth time (crtime)
      expect(kstat(`${m}/other/old-link`).ino).toBe(old.ino);
      expect(readFileSync(`${m}/other/old-link`, 'utf8')).toBe('old times');
      expect(xattr(`${m}/d/cap`, 'security.capability').equals(cap)).toBe(true);
      expect(xattr(`${m}/d/cap`, 'user.big').equals(Buffer.alloc(2000, 0xee))).toBe(true);
      expect(readlinkSync(`${m}/d/long`)).toBe('x'.repeat(300));
      const tty = kstat(`${m}/dev/tty`);
      expect([tty.type, tty.rdev]).toEqual(['character special file', '5:0']);
      expect(kstat(`${m}/dev/huge`).rdev).toBe('4000:1000000');
      const gone = kstat(`${m}/d/gone`);
      expect([gone.type, gone.mode, gone.rdev]).toEqual(['character special file', '0', '0:0']);
    });
  });
});
