import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, utimesSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modeString, run } from '../../src/cli/inspect.js';

const dir = mkdtempSync(join(tmpdir(), 'inspect-test-'));
const payload = randomBytes(300_000);
let image: string;
let vhdx: string;

beforeAll(() => {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  writeFileSync(join(tree, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(tree, 'blob'), payload);
  symlinkSync('etc/passwd', join(tree, 'link'));
  writeFileSync(join(tree, 'suid'), '');
  chmodSync(join(tree, 'suid'), 0o4755);
  utimesSync(join(tree, 'blob'), 1_600_000_000, 1_600_000_000);
  image = join(dir, 'img.raw');
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'insp', '-b', '4096', '-d', tree, image, '16M']);
  vhdx = join(dir, 'img.vhdx');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', image, vhdx]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function capture(args: string[]): Promise<{ code: number; out: Buffer; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  err.on('data', (c: Buffer) => errChunks.push(c));
  const code = await run(args, out, err);
  return { code, out: Buffer.concat(chunks), err: Buffer.concat(errChunks).toString() };
}

describe('lcow inspect', () => {
  it('prints a superblock summary and an ls -l listing of the root', async () => {
    const { code, out } = await capture([image]);
    expect(code).toBe(0);
    const text = out.toString();
    expect(text).toContain('(raw, 16777216 bytes)');
    expect(text).toContain('label:    "insp"');
    expect(text).toMatch(/^-rw-r--r-- +1 0:0 +300000 2020-09-13 12:26:40 blob$/m);
    expect(text).toMatch(/^lrwxrwxrwx .* link -> etc\/passwd$/m);
    expect(text).toMatch(/^-rwsr-xr-x .* suid$/m);
    expect(text).toMatch(/^drwxr-xr-x .* etc$/m);
  });

  it('lists a subdirectory of a VHDX and emits JSON', async () => {
    const { code, out } = await capture([vhdx, '/etc', '--json']);
    expect(code).toBe(0);
    const doc = JSON.parse(out.toString()) as {
      image: { container: string };
      superblock: { label: string; blockSize: number };
      entries: Array<{ name: string; size: number; kind: string }>;
    };
    expect(doc.image.container).toBe('vhdx');
    expect(doc.superblock).toMatchObject({ label: 'insp', blockSize: 4096 });
    expect(doc.entries).toEqual([expect.objectContaining({ name: 'passwd', kind: 'file', size: 26 })]);
  });

  it('--cat writes a file byte for byte', async () => {
    const { code, out } = await capture([vhdx, '--cat', '/blob']);
    expect(code).toBe(0);
    expect(out.equals(payload)).toBe(true);
  });

  it('reports a missing path as ENOTFOUND and bad usage with exit code 2', async () => {
    await expect(capture([image, '/nope'])).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(capture([image, '--cat', '/etc'])).rejects.toMatchObject({ code: 'EINVAL' });
    const r = await capture([]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: lcow inspect');
  });

  it('formats special mode bits like ls', () => {
    expect(modeString('dir', 0o1777)).toBe('drwxrwxrwt');
    expect(modeString('file', 0o6644)).toBe('-rwSr-Sr--');
    expect(modeString('char', 0o600)).toBe('crw-------');
  });
});
