// The extractor behind Get of a read-only layer: what it reproduces (names,
// bytes, holes, links, modes, times), what it leaves out (whiteouts, devices),
// and what it refuses (writing through a symlink, links to nothing, a name twice).
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { materialise } from '../../src/plugin/materialise.js';
import { END_OF_ARCHIVE, encodeTarItem, padding } from '../../src/tar/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lcow-materialise-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Header {
  name: string;
  type?: 'file' | 'directory' | 'link' | 'symlink' | 'character-device';
  mode?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  data?: Buffer | string;
}

async function tarOf(entries: Header[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { data, ...h } of entries) {
    const header = { mtime: new Date(1_000_000_000_000), ...h };
    if (data === undefined) pack.entry(header);
    else pack.entry(header, Buffer.from(data));
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function* once(t: Buffer): AsyncGenerator<Buffer> {
  yield t;
}
const run = async (t: Buffer) => materialise(once(t), dir, silentLogger);

describe('materialise', () => {
  it('reproduces names, bytes, links, modes and times; leaves out whiteouts and devices', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(200)}`;
    const zeros = Buffer.alloc(4 << 20);
    zeros.write('end', zeros.length - 3);
    const r = await run(
      await tarOf([
        { name: 'etc', type: 'directory', mode: 0o711, mtime: new Date(315_532_800_000) },
        { name: 'etc/passwd', data: 'root:x:0:0\n', mode: 0o644 },
        { name: 'etc/hard', type: 'link', linkname: 'etc/passwd' },
        { name: 'etc/abs', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'etc/dangling', type: 'symlink', linkname: '../nowhere' },
        { name: 'etc/.wh.removed', data: '' },
        { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
        { name: 'suid', data: '#!', mode: 0o4755 },
        { name: 'Ünïcødé ✓', data: 'u' },
        { name: long, data: 'long' },
        { name: 'sparse.bin', data: zeros },
      ]),
    );
    expect(r).toMatchObject({ skipped: 2 });
    expect(readFileSync(path.join(dir, 'etc/passwd'), 'utf8')).toBe('root:x:0:0\n');
    expect(statSync(path.join(dir, 'etc/hard')).ino).toBe(statSync(path.join(dir, 'etc/passwd')).ino);
    expect(readlinkSync(path.join(dir, 'etc/abs'))).toBe('/etc/passwd');
    expect(readlinkSync(path.join(dir, 'etc/dangling'))).toBe('../nowhere');
    expect(readdirSync(path.join(dir, 'etc')).sort()).toEqual(['abs', 'dangling', 'hard', 'passwd']);
    // A device has no bytes for the daemon to read: its parent is made, the node is not.
    expect(readdirSync(path.join(dir, 'dev'))).toEqual([]);
    expect(statSync(path.join(dir, 'etc')).mode & 0o7777).toBe(0o711);
    expect(statSync(path.join(dir, 'etc')).mtimeMs).toBe(315_532_800_000);
    expect(statSync(path.join(dir, 'suid')).mode & 0o7777).toBe(0o4755);
    expect(readFileSync(path.join(dir, 'Ünïcødé ✓'), 'utf8')).toBe('u');
    expect(readFileSync(path.join(dir, long), 'utf8')).toBe('long');
    // A mostly-zero file keeps its bytes and stays mostly holes on disk.
    const sparse = statSync(path.join(dir, 'sparse.bin'));
    expect(sparse.size).toBe(zeros.length);
    expect(sparse.blocks * 512).toBeLessThan(1 << 20);
    expect(readFileSync(path.join(dir, 'sparse.bin')).equals(zeros)).toBe(true);
    if (process.getuid?.() === 0) expect(lstatSync(path.join(dir, 'etc/passwd')).uid).toBe(0);
  });

  it('makes parents the tar names late, then gives them their metadata', async () => {
    await run(
      await tarOf([
        { name: 'a/b/c', data: 'c' },
        { name: 'a', type: 'directory', mode: 0o700 },
      ]),
    );
    expect(readFileSync(path.join(dir, 'a/b/c'), 'utf8')).toBe('c');
    expect(statSync(path.join(dir, 'a')).mode & 0o777).toBe(0o700);
  });

  it('never writes through a symlink, links only to earlier files, and takes each name once', async () => {
    await expect(
      run(
        await tarOf([
          { name: 'a', type: 'symlink', linkname: dir },
          { name: 'a/x', data: 'escape' },
        ]),
      ),
    ).rejects.toMatchObject({ code: 'EBADTAR' });
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(path.join(tmpdir(), 'lcow-materialise-'));
    await expect(run(await tarOf([{ name: 'h', type: 'link', linkname: 'missing' }]))).rejects.toMatchObject({ code: 'EBADTAR' });
    rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(path.join(tmpdir(), 'lcow-materialise-'));
    await expect(
      run(
        await tarOf([
          { name: 'x', data: '1' },
          { name: 'x', data: '2' },
        ]),
      ),
    ).rejects.toMatchObject({ code: 'EBADTAR' });
  });

  it('names that are not UTF-8 keep their bytes: caf\\xe9 and caf\\xe8 are two files', async () => {
    const item = (name: Buffer, data: string) => [
      encodeTarItem({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: { sec: 1, nsec: 0 } }),
      Buffer.from(data),
      padding(data.length),
    ];
    const e9 = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
    const e8 = Buffer.from([0x63, 0x61, 0x66, 0xe8]);
    await run(Buffer.concat([...item(e9, 'e9'), ...item(e8, 'e8'), END_OF_ARCHIVE]));
    const names = readdirSync(dir, { encoding: 'buffer' });
    expect(names.map((n) => n.toString('hex')).sort()).toEqual([e8.toString('hex'), e9.toString('hex')]);
    expect(readFileSync(Buffer.concat([Buffer.from(`${dir}/`), e9]), 'utf8')).toBe('e9');
  });
});
