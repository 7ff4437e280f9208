import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFile, removeFile, renamePath, statPath, type PositionalFile } from '../src/fd-file.js';
import { writeAll } from '../src/write-all.js';

const dir = mkdtempSync(join(tmpdir(), 'lcow-fd-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fd-file', () => {
  it('reads, writes, truncates, syncs and stats at positions, as a FileHandle does', async () => {
    const path = join(dir, 'a');
    const f = await openFile(path, 'wx+', 0o640);
    expect(await f.write(Buffer.from('hello world'), 6, 5, 100)).toMatchObject({ bytesWritten: 5 });
    await writeAll(f, Buffer.from('abc'), 0);
    await f.truncate(4096);
    await f.sync();
    const st = await f.stat();
    expect(st.size).toBe(4096);
    expect(st.mode & 0o777).toBe(0o640 & ~process.umask());
    const buf = Buffer.alloc(8);
    expect(await f.read(buf, 0, 8, 99)).toEqual({ bytesRead: 8, buffer: buf });
    expect(buf.toString('latin1')).toBe('\0world\0\0');
    expect((await f.read(buf, 0, 8, 4096)).bytesRead).toBe(0);
    await f.close();
    await f.close(); // once only, like FileHandle
    expect(readFileSync(path).subarray(0, 3).toString()).toBe('abc');
  });

  it('fails with the system error (code, syscall, path), never its own', async () => {
    await expect(openFile(join(dir, 'missing'), 'r')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' });
    const path = join(dir, 'b');
    await (await openFile(path, 'wx')).close();
    await expect(openFile(path, 'wx')).rejects.toMatchObject({ code: 'EEXIST' });
    const ro = await openFile(path, 'r');
    await expect(ro.write(Buffer.from('x'), 0, 1, 0)).rejects.toMatchObject({ code: 'EBADF' });
    await ro.close();
  });

  it('renames, removes (a missing file is no error) and stats by path', async () => {
    const a = join(dir, 'c');
    await (await openFile(a, 'wx')).close();
    await renamePath(a, join(dir, 'd'));
    expect(existsSync(a)).toBe(false);
    expect((await statPath(join(dir, 'd'))).isFile()).toBe(true);
    await removeFile(join(dir, 'd'));
    await removeFile(join(dir, 'd'));
    expect(existsSync(join(dir, 'd'))).toBe(false);
    await expect(statPath(join(dir, 'd'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("takes fs/promises' FileHandle where a PositionalFile goes", async () => {
    const fh = await open(join(dir, 'e'), 'w+');
    const asPositional: PositionalFile = fh;
    await writeAll(asPositional, Buffer.from('xyz'), 2);
    await fh.close();
    expect(statSync(join(dir, 'e')).size).toBe(5);
  });
});
