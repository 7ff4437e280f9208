/**
 * The images the engine test loads into the plugin daemon, made on the stock
 * daemon: an imported tar written here entry by entry (names, links,
 * devices, xattrs, modes, owners and times a layer store must carry), and a
 * legacy build on top of it with a whiteout and an opaque directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';

const OLD_1980 = new Date('1980-01-01T00:00:00Z');
const OLD_2001 = new Date('2001-09-09T01:46:40Z');

/** 130 characters: past ustar's 100-byte name field. */
export const LONG_NAME = `d1/${'long-name-'.repeat(12)}end.txt`;
export const UNICODE_NAME = 'd1/ünïcødé ✓ 名前 with spaces.txt';
/** The base layer's 1 MiB of random bytes: the negative control flips one of them inside layer.vhd. */
export const RANDOM_FILE = 'd1/rand.bin';

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'fifo';
  data?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

async function pack(entries: Entry[]): Promise<Buffer> {
  const p = tar.pack();
  for (const { data, ...h } of entries) {
    const header = { mode: h.type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: OLD_2001, ...h };
    if (data === undefined) p.entry(header);
    else p.entry(header, typeof data === 'string' ? Buffer.from(data) : data);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The base layer: a busybox rootfs with every kind of entry, as `docker import` takes it. */
export async function baseLayerTar(): Promise<{ tar: Buffer; random: Buffer }> {
  const random = randomBytes(1 << 20);
  const mostlyZero = Buffer.alloc(10 << 20);
  mostlyZero.write('the end', mostlyZero.length - 7);
  const applets = ['sh', 'cat', 'ls', 'rm', 'mkdir', 'echo', 'stat', 'test', 'find', 'sort', 'wc'];
  const tarBytes = await pack([
    { name: './', type: 'directory' },
    { name: './bin/', type: 'directory' },
    { name: './bin/busybox', data: readFileSync('/bin/busybox'), mode: 0o755 },
    ...applets.map((a): Entry => ({ name: `./bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', data: 'hello\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'd1/', type: 'directory', mtime: OLD_1980 },
    { name: 'd1/file', data: 'file\n', mtime: OLD_1980 },
    { name: 'd1/hard', type: 'link', linkname: 'd1/file' },
    { name: 'd1/abs-link', type: 'symlink', linkname: '/etc/motd' },
    { name: 'd1/rel-link', type: 'symlink', linkname: '../etc/motd' },
    { name: 'd1/dangling', type: 'symlink', linkname: 'nowhere/at/all' },
    { name: 'd1/empty', data: '' },
    { name: LONG_NAME, data: 'long\n' },
    { name: UNICODE_NAME, data: 'unicode\n' },
    { name: RANDOM_FILE, data: random },
    { name: 'd1/mostly-zero.bin', data: mostlyZero },
    { name: 'd1/setuid', data: '#!/bin/sh\n', mode: 0o4755 },
    { name: 'd1/read-only', data: 'locked\n', mode: 0o400 },
    { name: 'd1/owner-1000', data: 'u1000\n', uid: 1000, gid: 1000 },
    { name: 'd1/owner-100000', data: 'u100000\n', uid: 100000, gid: 100000 },
    { name: 'd1/xattrs', data: 'x\n', pax: { 'SCHILY.xattr.user.foo': 'bar', 'SCHILY.xattr.trusted.big': 'v'.repeat(300) } },
    { name: 'd1/chardev', type: 'character-device', devmajor: 1, devminor: 3 },
    { name: 'd1/blockdev', type: 'block-device', devmajor: 7, devminor: 0 },
    { name: 'd1/fifo', type: 'fifo' },
    { name: 'd1/d2/', type: 'directory' },
    { name: 'd1/d2/deep', data: 'deep\n' },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/a', data: 'a\n' },
    { name: 'opq/b', data: 'b\n' },
  ]);
  return { tar: tarBytes, random };
}

/**
 * A legacy-build context on top of the base. vfs computes a step's layer by
 * comparing trees, which yields whiteouts (`RUN rm`) but never an opaque
 * directory; an opaque one comes from ADD of a tar holding the marker, which
 * the build copies in as it is, so the step's layer carries
 * `opq/.wh..wh..opq` — as a layer tar means it.
 */
export async function buildContext(dir: string, baseImage: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'opq.tar'),
    await pack([
      { name: 'opq/', type: 'directory' },
      { name: 'opq/.wh..wh..opq', data: '' },
      { name: 'opq/z', data: 'z\n' },
    ]),
  );
  writeFileSync(path.join(dir, 'copied.txt'), 'copied\n');
  writeFileSync(
    path.join(dir, 'Dockerfile'),
    [`FROM ${baseImage}`, 'ADD opq.tar /', 'RUN rm /d1/empty && rm -r /d1/d2 && echo mod >> /etc/motd', 'COPY copied.txt /copied/', 'CMD ["/bin/sh"]', ''].join(
      '\n',
    ),
  );
}
