// The conversion worker: a real worker thread running the real converter.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { LcowError } from '../../src/errors.js';
import { convertInWorker } from '../../src/driver/apply-diff.js';

const dir = mkdtempSync(path.join(tmpdir(), 'apply-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function smallTar(): Readable {
  const p = tar.pack();
  p.entry({ name: 'etc/', type: 'directory', mode: 0o755 });
  p.entry({ name: 'etc/hello', mode: 0o644 }, 'hello world\n');
  p.entry({ name: 'big', mode: 0o644 }, Buffer.alloc(3 * 1024 * 1024, 7)); // several chunks: exercises the ack window
  p.finalize();
  return p as unknown as Readable;
}

export function e2fsckClean(vhd: string): string {
  const img = vhd + '.img';
  copyFileSync(vhd, img);
  truncateSync(img, statSync(vhd).size - 512);
  try {
    return execFileSync('e2fsck', ['-fn', img], { encoding: 'utf8' });
  } finally {
    rmSync(img, { force: true });
  }
}

describe('convertInWorker', () => {
  it('converts a tar in a worker thread into an image e2fsck accepts, returning its size', async () => {
    const out = path.join(dir, 'layer.vhd');
    const { sizeBytes } = await convertInWorker(smallTar(), out);
    expect(sizeBytes).toBe(statSync(out).size);
    e2fsckClean(out); // throws on findings (non-zero exit)
    expect(execFileSync('debugfs', ['-R', 'cat /etc/hello', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toBe('hello world\n');
  });

  it('a bad tar is a typed error and leaves no output', async () => {
    const out = path.join(dir, 'bad.vhd');
    const garbage = Readable.from([Buffer.alloc(512, 0x41), Buffer.alloc(1024)]);
    await expect(convertInWorker(garbage, out)).rejects.toMatchObject({ code: 'EBADTAR' });
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('bad'))).toEqual([]);
  });

  it('an input stream error keeps its LcowError code and leaves no output', async () => {
    const out = path.join(dir, 'cut.vhd');
    async function* cut() {
      yield Buffer.alloc(512);
      throw new LcowError('EBADIMAGE', 'digest mismatch', {});
    }
    await expect(convertInWorker(cut(), out)).rejects.toMatchObject({ code: 'EBADIMAGE' });
    expect(readdirSync(dir).filter((n) => n.includes('cut'))).toEqual([]);
  });
});
