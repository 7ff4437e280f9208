/**
 * Two conversions of a small layer of the usual kinds (directories, files of
 * several sizes with one over a read chunk, links, a long name, xattrs,
 * whiteouts), run by the build through `lcow convert`'s bundle so that V8's
 * code cache written after them holds the functions a conversion calls
 * (bin/load-bundle.cjs, scripts/warm-convert-bundle.mjs).
 */
// Synchronous fs: this file is in the bundle, and node:fs/promises would load at every start.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LcowError } from '../errors.js';
import { END_OF_ARCHIVE, encodeTarItem, padding, type TarItem } from '../tar/index.js';
import { run } from './convert.js';

function warmUpTar(): Buffer {
  const mtime = { sec: 1_700_000_000, nsec: 0 };
  const parts: Buffer[] = [];
  const add = (item: Pick<TarItem, 'name' | 'type' | 'linkname' | 'xattrs'>, body?: Buffer): void => {
    parts.push(encodeTarItem({ mode: item.type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: body?.length ?? 0, mtime, ...item }));
    if (body) parts.push(body, padding(body.length));
  };
  add({ name: 'etc', type: 'dir' });
  add({ name: 'etc/hostname', type: 'file' }, Buffer.from('warm\n'));
  add({ name: 'usr', type: 'dir' });
  add({ name: 'usr/lib', type: 'dir' });
  for (let i = 0; i < 40; i++) {
    add({ name: `usr/lib/f${i}`, type: 'file', xattrs: i % 8 ? undefined : new Map([['user.k', Buffer.from('v')]]) }, Buffer.alloc(i * 700, i));
  }
  add({ name: 'usr/lib/big', type: 'file' }, Buffer.alloc(600 * 1024, 7));
  add({ name: `usr/lib/${'long-name-'.repeat(12)}`, type: 'file' }, Buffer.from('long\n'));
  add({ name: 'usr/lib/link', type: 'symlink', linkname: 'f1' });
  add({ name: 'usr/lib/hard', type: 'hardlink', linkname: 'usr/lib/f2' });
  add({ name: 'usr/lib/.wh.gone', type: 'file' });
  add({ name: 'usr/.wh..wh..opq', type: 'file' });
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** Converts the warm-up layer twice (plain, then with --whiteouts) in a temporary folder, which is removed. */
export async function warmUp(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'lcow-warm-'));
  try {
    const tar = join(work, 'layer.tar');
    writeFileSync(tar, warmUpTar());
    for (const extra of [[], ['--whiteouts']]) {
      const code = await run(['--no-sync', '--json', ...extra, tar, join(work, 'layer.vhd')]);
      if (code !== 0) throw new LcowError('EIO', `the warm-up conversion exited ${code}`, { code });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
