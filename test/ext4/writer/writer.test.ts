/**
 * The writer's entry semantics, checked on real images: e2fsck -fn must be
 * silent, and every property is read back independently with debugfs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import type { LayerEntry } from '../../../src/ext4/index.js';
import { TempDir, debugfs, dir, dump, eaList, expectFsckClean, file, hardlink, kernelTime, meta, stat, symlink, writeImage } from './helpers.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());
let n = 0;
const img = () => tmp.file(`w${n++}.img`);

async function expectCode(entries: LayerEntry[], code: string, entry?: string): Promise<void> {
  const err = await writeImage(img(), entries).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLcowError(err), String(err)).toBe(true);
  if (!isLcowError(err)) return;
  expect(err.code).toBe(code);
  if (entry !== undefined) expect(err.context.entry).toBe(entry);
}

describe('Ext4Writer: every entry kind', () => {
  it('writes files, dirs, symlinks, devices, fifos, sockets and whiteouts with their metadata', async () => {
    const image = img();
    await writeImage(image, [
      dir('etc', { mode: 0o750, uid: 5, gid: 6 }),
      file('etc/hosts', '127.0.0.1 localhost\n', { mode: 0o4755, uid: 1000, gid: 1001 }),
      file('empty', ''),
      file('nomode', 'x', { mode: 0 }),
      dir('tmp', { mode: 0o1777 }),
      file('sgid', 'y', { mode: 0o2711 }),
      symlink('etc/link', 'hosts'),
      { kind: 'char', path: 'dev/null', tarName: 'dev/null', major: 1, minor: 3, meta: meta({ mode: 0o666 }) },
      { kind: 'block', path: 'dev/nvme', tarName: 'dev/nvme', major: 259, minor: 300000, meta: meta({ mode: 0o660 }) },
      { kind: 'fifo', path: 'run/fifo', tarName: 'run/fifo', meta: meta({ mode: 0o600 }) },
      { kind: 'socket', path: 'run/sock', tarName: 'run/sock', meta: meta({ mode: 0o755 }) },
      { kind: 'whiteout', path: 'etc/removed', tarName: 'etc/.wh.removed', meta: meta({ mode: 0o644 }) },
    ]);
    expectFsckClean(image);
    const etc = stat(image, '/etc');
    expect([etc.type, etc.mode, etc.uid, etc.gid, etc.links]).toEqual(['directory', 0o750, 5, 6, 2]);
    const hosts = stat(image, '/etc/hosts');
    expect([hosts.type, hosts.mode, hosts.uid, hosts.gid, hosts.size, hosts.links]).toEqual(['regular', 0o4755, 1000, 1001, 20, 1]);
    expect(dump(image, '/etc/hosts', tmp).toString()).toBe('127.0.0.1 localhost\n');
    expect(stat(image, '/empty').size).toBe(0);
    expect(stat(image, '/nomode').mode).toBe(0);
    expect(stat(image, '/tmp').mode).toBe(0o1777);
    expect(stat(image, '/sgid').mode).toBe(0o2711);
    const link = stat(image, '/etc/link');
    expect(link.type).toBe('symlink');
    expect(link.raw).toMatch(/Fast link dest: "hosts"/);
    expect(link.blockcount).toBe(0);
    expect(stat(image, '/dev/null').raw).toMatch(/Device major\/minor number: 01:03/);
    expect(stat(image, '/dev/nvme').raw).toMatch(/Device major\/minor number: 259:300000/);
    expect(stat(image, '/run/fifo').type).toBe('FIFO');
    expect(stat(image, '/run/sock').type).toBe('socket');
    const wh = stat(image, '/etc/removed');
    expect([wh.type, wh.mode]).toEqual(['character special', 0]);
    expect(wh.raw).toMatch(/major\/minor number: 00:00/);
    // root: . .. lost+found etc tmp dev run -> 2 + 5 subdirs
    expect(stat(image, '/').links).toBe(7);
    const lf = stat(image, '/lost+found');
    expect(lf.raw).toMatch(/^Inode: 11\s/);
    expect(lf.mode).toBe(0o700);
    expect(stat(image, '/').raw).toMatch(/^Inode: 2\s/);
  });

  it('stores long symlinks (up to 4095 bytes) in a block', async () => {
    const image = img();
    const target = 'd/'.repeat(2047) + 'x'; // 4095 bytes
    await writeImage(image, [symlink('long', target), symlink('sixty', 'a'.repeat(60)), symlink('fiftynine', 'b'.repeat(59))]);
    expectFsckClean(image);
    const s = stat(image, '/long');
    expect([s.size, s.blockcount]).toEqual([4095, 8]);
    expect(dump(image, '/long', tmp).toString()).toBe(target);
    expect(stat(image, '/sixty').blockcount).toBe(8);
    expect(stat(image, '/fiftynine').raw).toMatch(/Fast link dest: "b{59}"/);
  });

  it('keeps 32-bit uid/gid and 255-byte UTF-8 names', async () => {
    const image = img();
    const name = 'é'.repeat(127) + 'x'; // 255 bytes
    await writeImage(image, [file(name, 'z', { uid: 4_000_000_000, gid: 3_000_000_001 })]);
    expectFsckClean(image);
    const s = stat(image, '/' + name);
    expect([s.uid, s.gid]).toEqual([4_000_000_000, 3_000_000_001]);
  });

  it('rejects a 256-byte name with EBADTAR naming the entry', async () => {
    await expectCode([file('a'.repeat(256), 'z')], 'EBADTAR', 'a'.repeat(256));
  });

  it('stores times before 1970 and after 2038 with nanoseconds the way the kernel decodes them', async () => {
    const image = img();
    const times = [
      { sec: -1, nsec: 999_999_999 },
      { sec: -2_000_000_000, nsec: 1 },
      { sec: 2 ** 31, nsec: 500 }, // 2038-01-19T03:14:08
      { sec: 4_102_444_800, nsec: 42 }, // 2100-01-01
      { sec: 0, nsec: 0 },
    ];
    await writeImage(
      image,
      times.map((t, i) => file(`t${i}`, 'x', { mtime: t, atime: t, ctime: t, crtime: t })),
    );
    expectFsckClean(image);
    times.forEach((t, i) => {
      const s = stat(image, `/t${i}`);
      for (const f of ['mtime', 'atime', 'ctime', 'crtime']) expect(kernelTime(s.times[f]!), `t${i} ${f}`).toEqual(t);
    });
    expect(stat(image, '/t0').raw).toMatch(/mtime: .* 1969/);
    expect(stat(image, '/t3').raw).toMatch(/mtime: .* 2100/);
  });
});

describe('Ext4Writer: xattrs', () => {
  it('puts small ones in the inode, large and binary ones in a block; e2fsck accepts the hashes', async () => {
    const image = img();
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const big = Buffer.alloc(3000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    await writeImage(image, [
      file('small', 'a', { xattrs: new Map([['user.a', Buffer.from('1')]]) }),
      file('cap', 'b', { xattrs: new Map([['security.capability', cap]]) }),
      file('many', 'c', {
        xattrs: new Map<string, Buffer>([
          ['user.one', Buffer.from('first')],
          ['trusted.two', Buffer.alloc(0)],
          ['user.big', big],
          ['security.selinux', Buffer.from('system_u:object_r:bin_t:s0\0')],
        ]),
      }),
    ]);
    expectFsckClean(image);
    expect(stat(image, '/small').raw).toMatch(/File ACL: 0\b/);
    expect(eaList(image, '/small')).toMatch(/user\.a \(1\) = "1"/);
    expect(eaList(image, '/cap')).toMatch(/security\.capability \(20\) = 01 00 00 02 00 20 00 00/);
    expect(stat(image, '/many').raw).not.toMatch(/File ACL: 0\b/);
    const list = eaList(image, '/many');
    expect(list).toMatch(/user\.one \(5\) = "first"/);
    expect(list).toMatch(/trusted\.two \(0\)/);
    expect(list).toMatch(/user\.big \(3000\)/);
    expect(list).toMatch(/security\.selinux \(27\)/);
    const got = tmp.file('bigval');
    debugfs(image, `ea_get -f ${got} /many user.big`);
    expect(dump(image, '/many', tmp).toString()).toBe('c');
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(got).equals(big)).toBe(true);
  });

  it('fails with ETOOBIG when attributes do not fit one block', async () => {
    await expectCode([file('f', 'x', { xattrs: new Map([['user.a', Buffer.alloc(5000)]]) })], 'ETOOBIG');
  });
});

describe('Ext4Writer: layer semantics', () => {
  it('creates missing parents and fixes them up when the real entry arrives, merging xattrs', async () => {
    const image = img();
    await writeImage(image, [
      file('a/b/c', 'deep'),
      { kind: 'opaque', path: 'a/b', tarName: 'a/b/.wh..wh..opq' },
      dir('a/b', { mode: 0o711, uid: 7, gid: 8, xattrs: new Map([['user.k', Buffer.from('v')]]) }),
    ]);
    expectFsckClean(image);
    const a = stat(image, '/a');
    expect([a.mode, a.uid, a.gid, a.links]).toEqual([0o755, 0, 0, 3]);
    const b = stat(image, '/a/b');
    expect([b.mode, b.uid, b.gid]).toEqual([0o711, 7, 8]);
    expect(kernelTime(b.times.mtime!)).toEqual({ sec: 1_700_000_000, nsec: 123_456_789 });
    const ea = eaList(image, '/a/b');
    expect(ea).toMatch(/trusted\.overlay\.opaque \(1\) = "y"/);
    expect(ea).toMatch(/user\.k \(1\) = "v"/);
    expect(dump(image, '/a/b/c', tmp).toString()).toBe('deep');
  });

  it('puts each entry in its own parent when parents alternate (the last parent is remembered, not assumed)', async () => {
    const image = img();
    await writeImage(image, [
      file('a/x', 'ax'),
      file('b/y', 'by'),
      file('a/z', 'az'),
      file('a/sub/w', 'asw'),
      file('a/v', 'av'),
      file('top', 'top'),
      file('a/u', 'au'),
      dir('a', { mode: 0o700 }),
      file('a/t', 'at'),
    ]);
    expectFsckClean(image);
    for (const [p, body] of [
      ['/a/x', 'ax'],
      ['/b/y', 'by'],
      ['/a/z', 'az'],
      ['/a/sub/w', 'asw'],
      ['/a/v', 'av'],
      ['/top', 'top'],
      ['/a/u', 'au'],
      ['/a/t', 'at'],
    ]) {
      expect(dump(image, p!, tmp).toString()).toBe(body);
    }
    expect(debugfs(image, 'ls /a')).not.toMatch(/\by\b/);
    expect(stat(image, '/a').mode).toBe(0o700);
    await expectCode([file('p/q', 'x'), file('r', 'y'), file('p/q/s', 'z')], 'EBADTAR', 'p/q/s');
  });

  it('marks a directory opaque, creating it when absent', async () => {
    const image = img();
    await writeImage(image, [
      dir('x'),
      { kind: 'opaque', path: 'x', tarName: 'x/.wh..wh..opq' },
      { kind: 'opaque', path: 'y/z', tarName: 'y/z/.wh..wh..opq' },
      { kind: 'dir', path: 'w', tarName: 'w/', opaque: true, meta: meta({ mode: 0o755 }) },
    ]);
    expectFsckClean(image);
    for (const p of ['/x', '/y/z', '/w']) expect(eaList(image, p)).toMatch(/trusted\.overlay\.opaque \(1\) = "y"/);
  });

  it('lets a later entry replace an earlier one: the later content wins, freed blocks are free', async () => {
    const image = img();
    const first = Buffer.alloc(50_000, 1);
    await writeImage(image, [
      file('f', first, { mode: 0o600 }),
      file('f', 'second', { mode: 0o640, uid: 3 }),
      symlink('s', 'old'),
      file('s', 'now a file'),
      file('t', 'was a file'),
      symlink('t', 'now-a-link'),
      dir('d', { mode: 0o700 }),
      dir('d', { mode: 0o755, uid: 9 }),
    ]);
    expectFsckClean(image);
    const f = stat(image, '/f');
    expect([f.mode, f.uid, f.size, f.links]).toEqual([0o640, 3, 6, 1]);
    expect(dump(image, '/f', tmp).toString()).toBe('second');
    expect(stat(image, '/s').type).toBe('regular');
    expect(dump(image, '/s', tmp).toString()).toBe('now a file');
    expect(stat(image, '/t').raw).toMatch(/Fast link dest: "now-a-link"/);
    expect([stat(image, '/d').mode, stat(image, '/d').uid]).toEqual([0o755, 9]);
  });

  it('refuses to swap a directory and a non-directory (EBADTAR naming the entry)', async () => {
    await expectCode([dir('d'), file('d', 'x')], 'EBADTAR', 'd');
    await expectCode([file('d', 'x'), dir('d')], 'EBADTAR', 'd/');
    await expectCode([file('a/b', 'x'), { kind: 'whiteout', path: 'a', tarName: 'a.wh', meta: meta() }], 'EBADTAR', 'a.wh');
    await expectCode([file('f', 'x'), file('f/g', 'y')], 'EBADTAR', 'f/g');
  });

  it('hard links: many names, across directories, to symlinks; link counts right', async () => {
    const image = img();
    const entries: LayerEntry[] = [file('bin/busybox', 'BB', { mode: 0o755 }), symlink('lnk', '/bin/busybox')];
    for (let i = 0; i < 300; i++) entries.push(hardlink(`sbin/tool${i}`, 'bin/busybox'));
    entries.push(hardlink('usr/lnk2', 'lnk'));
    entries.push(hardlink('bin/busybox2', 'bin/busybox'));
    await writeImage(image, entries);
    expectFsckClean(image);
    const bb = stat(image, '/bin/busybox');
    expect(bb.links).toBe(302);
    const ino = bb.raw.match(/^Inode: (\d+)/)?.[1];
    expect(stat(image, '/sbin/tool299').raw).toMatch(new RegExp(`^Inode: ${ino}\\s`));
    expect(dump(image, '/sbin/tool123', tmp).toString()).toBe('BB');
    const l = stat(image, '/usr/lnk2');
    expect([l.type, l.links]).toEqual(['symlink', 2]);
    expect(l.raw).toMatch(/Fast link dest: "\/bin\/busybox"/);
  });

  it('replacing one name of a hard-linked file leaves the other name with the old content', async () => {
    const image = img();
    await writeImage(image, [file('a', 'old'), hardlink('b', 'a'), file('a', 'new')]);
    expectFsckClean(image);
    expect(dump(image, '/a', tmp).toString()).toBe('new');
    expect(dump(image, '/b', tmp).toString()).toBe('old');
    expect(stat(image, '/a').links).toBe(1);
    expect(stat(image, '/b').links).toBe(1);
  });

  it('rejects a hard link to a missing target or to a directory', async () => {
    await expectCode([hardlink('x', 'nope')], 'EBADTAR', 'x');
    await expectCode([dir('d'), hardlink('x', 'd')], 'EBADTAR', 'x');
  });

  it('rejects truncated and overlong bodies', async () => {
    const short: LayerEntry = {
      kind: 'file',
      path: 'f',
      tarName: 'f',
      meta: meta(),
      size: 10,
      body: (async function* () {
        yield Buffer.from('abc');
      })(),
    };
    await expectCode([short], 'EBADTAR', 'f');
    const long: LayerEntry = {
      kind: 'file',
      path: 'g',
      tarName: 'g',
      meta: meta(),
      size: 2,
      body: (async function* () {
        yield Buffer.from('abc');
      })(),
    };
    await expectCode([long], 'EBADTAR', 'g');
  });

  it('fails with ETOOBIG naming the entry that passes maxDiskSizeBytes', async () => {
    const entries = [file('small', Buffer.alloc(100_000)), file('huge', Buffer.alloc(2 * 1024 * 1024))];
    const err = await writeImage(img(), entries, { maxDiskSizeBytes: 1024 * 1024 }).catch((e: unknown) => e);
    expect(isLcowError(err, 'ETOOBIG')).toBe(true);
    expect((err as { context: { entry: string } }).context.entry).toBe('huge');
  });
});
