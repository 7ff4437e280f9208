/**
 * `lcow convert` through the real dispatcher: in-process for the result and
 * error contracts, and as a child process for stdin input and for the
 * progress bar (under `script`, which gives the child a pseudo-terminal).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { commandStdout } from '../../src/cli/std-streams.js';
import { bundleConverterCli, e2fsck, pyTar, richMembers } from '../helpers/tar-fixtures.js';

const repo = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'lcow-cli-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let stdout: string[];
let stderr: string[];
beforeEach(() => {
  stdout = [];
  stderr = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (stdout.push(String(s)), true));
  vi.spyOn(commandStdout, 'write').mockImplementation((s) => void stdout.push(s));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (stderr.push(String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

describe('lcow convert', () => {
  it('prints one result line and writes an e2fsck-clean image', async () => {
    const tar = join(dir, 'a.tar');
    pyTar(tar, 'pax', richMembers());
    const out = join(dir, 'a.vhd');
    expect(await main(['convert', tar, out])).toBe(0);
    expect(stdout.join('')).toMatch(/^.*a\.vhd: .* bytes, ext4 \d+\), 33 entries\n$/);
    expect(stderr.join('')).toBe(''); // stderr is not a TTY here: no progress bar
    expect(e2fsck(out).status).toBe(0);
  });

  it('--no-sync writes the same image (only the fsyncs are skipped)', async () => {
    const tar = join(dir, 'nosync.tar');
    pyTar(tar, 'pax', richMembers());
    expect(await main(['convert', tar, join(dir, 'synced.vhd')])).toBe(0);
    expect(await main(['convert', '--no-sync', tar, join(dir, 'unsynced.vhd')])).toBe(0);
    expect(readFileSync(join(dir, 'unsynced.vhd')).equals(readFileSync(join(dir, 'synced.vhd')))).toBe(true);
  });

  it('--json prints the ConvertResult; --verity adds the root hash; --no-vhd drops the footer', async () => {
    const tar = join(dir, 'b.tar');
    pyTar(tar, 'pax', [{ name: 'f', data: 'x' }]);
    expect(await main(['convert', tar, join(dir, 'b.img'), '--json', '--verity', '--no-vhd', '--max-size', '64M'])).toBe(0);
    const r = JSON.parse(stdout.join('')) as { sizeBytes: number; verity: { totalSizeBytes: number }; rootHash: string; entries: number };
    expect(r.entries).toBe(1);
    expect(r.rootHash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.sizeBytes).toBe(r.verity.totalSizeBytes);
  });

  it('errors print `lcow: CODE: message`, exit 1, and leave no file', async () => {
    const tar = join(dir, 'bad.tar');
    writeFileSync(tar, Buffer.concat([pyTar(join(dir, 'ok.tar'), 'ustar', [{ name: 'x', data: 'y'.repeat(5000) }]).subarray(0, 3000)]));
    const outDir = mkdtempSync(join(dir, 'out-'));
    expect(await main(['convert', tar, join(outDir, 'x.vhd')])).toBe(1);
    expect(stderr.join('')).toMatch(/^lcow: EBADTAR: unexpected end of archive in 'x'\n$/);
    expect(readdirSync(outDir)).toEqual([]);
    stderr = [];
    expect(await main(['convert', join(dir, 'missing.tar'), join(outDir, 'x.vhd')])).toBe(1);
    expect(stderr.join('')).toMatch(/^lcow: ENOTFOUND: /);
    stderr = [];
    expect(await main(['convert', tar])).toBe(1);
    expect(stderr.join('')).toMatch(/^lcow: EINVAL: usage: lcow convert/);
  });
});

describe('lcow convert as a process', () => {
  it('reads the tar from stdin with "-"', async () => {
    const cli = await bundleConverterCli(repo);
    const tar = pyTar(join(dir, 'c.tar'), 'pax', richMembers());
    const out = join(dir, 'c.vhd');
    const r = spawnSync(process.execPath, [cli, '-', out, '--json'], { input: tar });
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(r.stderr.toString()).toBe('');
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ entries: 33 });
    expect(e2fsck(out).status).toBe(0);
  });

  /**
   * Runs `script` under sh with $1 the tar, $2 node, $3 the bundled CLI, $4 the output
   * (and $5 a scratch path), then checks the image equals the one converted from the file.
   */
  async function expectSameImageAsFile(name: string, script: string): Promise<void> {
    const cli = await bundleConverterCli(repo);
    const tar = join(dir, `${name}.tar`);
    pyTar(tar, 'pax', richMembers());
    const r = spawnSync('sh', ['-c', script, 'sh', tar, process.execPath, cli, join(dir, `${name}.vhd`), join(dir, `${name}.scratch`)]);
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(JSON.parse(r.stdout.toString())).toMatchObject({ entries: 33 });
    expect(await main(['convert', tar, join(dir, `${name}-file.vhd`)])).toBe(0);
    expect(readFileSync(join(dir, `${name}.vhd`)).equals(readFileSync(join(dir, `${name}-file.vhd`)))).toBe(true);
  }

  it('reads the tar from a shell pipe on stdin ("cat … | lcow convert -"): the same image as from the file', async () => {
    await expectSameImageAsFile('sp', 'cat "$1" | exec "$2" "$3" - "$4" --json');
  });

  it('reads the tar from a named pipe (what `<(zcat layer.tar.gz)` gives): the same image as from the file', async () => {
    // The shell feeds the pipe ($5) while the converter reads it (no offsets to read at); the
    // feeder gives up after 30 s, so a converter that never opens the pipe cannot hang the test.
    await expectSameImageAsFile('p', 'mkfifo "$5" && { timeout 30 sh -c \'cat "$1" > "$2"\' sh "$1" "$5" & } && exec "$2" "$3" "$5" "$4" --json');
  });

  it('draws a progress bar on a terminal', async () => {
    const cli = await bundleConverterCli(repo);
    const tar = join(dir, 'd.tar');
    pyTar(tar, 'pax', [{ name: 'big', data: { size: 20 << 20 } }]);
    // `script` runs the command on a pseudo-terminal and copies what it wrote.
    const cmd = `${process.execPath} ${cli} ${tar} ${join(dir, 'd.vhd')}`;
    const text = execFileSync('script', ['-qec', cmd, '/dev/null']).toString();
    expect(text).toMatch(/convert \[#+\]\s+100%/);
    expect(text).toMatch(/1 entries/);
    expect(text).toMatch(/d\.vhd: /);
  });
});
