// `lcow driver <verb>`: every verb that needs no VM, through the real CLI in
// a child process (JSON on stdout, tars to files, exit codes, typed errors).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTar, layerTar } from './helpers/layers.js';
import { lcow } from './helpers/cli.js';

let dir: string;
let root: string;
const drv = (...args: string[]) => lcow(['driver', args[0]!, '--root', root, ...args.slice(1)]);

async function tarBytes(s: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lcow-cli-'));
  root = path.join(dir, 'root');
  writeFileSync(
    path.join(dir, 'base.tar'),
    await tarBytes(
      layerTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/a', data: 'A' },
        { name: 'etc/b', data: 'BB' },
      ]),
    ),
  );
  writeFileSync(
    path.join(dir, 'top.tar'),
    await tarBytes(
      layerTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/.wh.a', data: '' },
        { name: 'etc/c', data: 'CCC' },
      ]),
    ),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lcow driver (CLI)', () => {
  it('create / apply-diff (file and stdin) / exists / metadata', async () => {
    expect((await drv('create', 'base')).code).toBe(0);
    const applied = await drv('apply-diff', 'base', '', path.join(dir, 'base.tar'));
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout.toString())).toMatchObject({ id: 'base', size: expect.any(Number) });
    const viaStdin = await lcow(['driver', 'apply-diff', '--root', root, 'top', 'base', '-'], readFileSync(path.join(dir, 'top.tar')));
    expect(viaStdin.code).toBe(0);
    expect((await drv('exists', 'top')).code).toBe(0);
    const missing = await drv('exists', 'nope');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout.toString())).toBe(false);
    expect(JSON.parse((await drv('metadata', 'top')).stdout.toString())).toMatchObject({ kind: 'layer', parents: 'base' });
  }, 120_000);

  it('diff -o / changes / diff-size / diff-getter / status', async () => {
    const out = path.join(dir, 'top-diff.tar');
    expect((await drv('diff', 'top', 'base', '-o', out)).code).toBe(0);
    const names = (
      await readTar(
        (async function* () {
          yield readFileSync(out);
        })(),
      )
    ).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['etc/.wh.a', 'etc/c']));
    const stdoutTar = await drv('diff', 'top');
    expect(stdoutTar.stdout.equals(readFileSync(out))).toBe(true);
    expect(JSON.parse((await drv('changes', 'top', 'base')).stdout.toString())).toEqual([
      { path: '/etc', kind: 'modify' },
      { path: '/etc/a', kind: 'delete' },
      { path: '/etc/c', kind: 'add' },
    ]);
    expect(JSON.parse((await drv('diff-size', 'top', 'base')).stdout.toString())).toEqual({ id: 'top', size: 3 });
    expect((await drv('diff-getter', 'base', 'etc/a', 'etc/b')).stdout.toString()).toBe('ABB');
    expect(JSON.parse((await drv('status')).stdout.toString())).toMatchObject({ driver: 'lcow', mode: 'safe', serviceVms: [], dataRoot: root });
  }, 120_000);

  it('remove / cleanup; typed errors exit 1 naming the code', async () => {
    expect((await drv('remove', 'top')).code).toBe(0);
    expect((await drv('exists', 'top')).code).toBe(1);
    expect((await drv('cleanup')).code).toBe(0);
    const bad = await lcow(['driver', 'status', '--root', root, '--opt', 'lcow.sandboxsize=3']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/EBADOPTION.*lcow\.sandboxsize/);
    const dup = await drv('create', 'base');
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/EEXIST/);
    expect((await drv('frobnicate')).code).toBe(1);
    expect((await lcow(['driver', 'status'])).stderr).toMatch(/--root DIR is required/);
  }, 120_000);
});
