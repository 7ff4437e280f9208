// `lcow run`: a sandbox on the image's top layer, argv run as a container
// process (runc) on the union in a real VM, stdout/stderr/exit code passed through, sandbox gone after.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxItems } from './helpers/busybox-layer.js';
import { lcow } from './helpers/cli.js';
import { layerTar } from './helpers/layers.js';

let dir: string;
let root: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lcow-run-'));
  root = path.join(dir, 'root');
  const chunks: Buffer[] = [];
  for await (const c of layerTar(busyboxItems())) chunks.push(Buffer.from(c as Uint8Array));
  writeFileSync(path.join(dir, 'base.tar'), Buffer.concat(chunks));
  const r = await lcow(['driver', 'apply-diff', '--root', root, 'base', '', path.join(dir, 'base.tar')]);
  expect(r.code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lcow run', () => {
  it('runs argv in a container on the rootfs, passes output and exit code, removes its sandbox', async () => {
    const r = await lcow(['run', '--root', root, 'base', '--', '/bin/sh', '-c', 'echo "arg: $0"; cat /etc/os-release; echo oops >&2; exit 3', 'x y']);
    expect(r.stdout.toString()).toBe('arg: x y\nNAME=lcow-test\n');
    expect(r.stderr).toContain('oops\n');
    expect(r.code).toBe(3);
    expect(readdirSync(root).filter((n) => n.startsWith('run-'))).toEqual([]);
  });

  it('--keep keeps the sandbox, whose writes the host then sees', async () => {
    const r = await lcow(['run', '--root', root, '--keep', 'base', '--', '/bin/sh', '-c', 'echo kept > /kept.txt']);
    expect(r.code).toBe(0);
    const id = /kept sandbox (run-[0-9a-f]+)/.exec(r.stderr)?.[1];
    expect(id).toBeDefined();
    const ch = await lcow(['driver', 'changes', '--root', root, id!, 'base']);
    expect(JSON.parse(ch.stdout.toString())).toEqual([{ path: '/kept.txt', kind: 'add' }]);
    expect((await lcow(['driver', 'diff-getter', '--root', root, id!, 'kept.txt'])).stdout.toString()).toBe('kept\n');
  });

  it('takes an image (a docker-save layout) instead of a layer id: imports it, then runs', async () => {
    const img = path.join(dir, 'image');
    mkdirSync(path.join(img, 'l1'), { recursive: true });
    const layerBytes = readFileSync(path.join(dir, 'base.tar'));
    writeFileSync(path.join(img, 'l1', 'layer.tar'), layerBytes);
    const diffId = 'sha256:' + createHash('sha256').update(layerBytes).digest('hex');
    writeFileSync(path.join(img, 'config.json'), JSON.stringify({ rootfs: { type: 'layers', diff_ids: [diffId] } }));
    writeFileSync(path.join(img, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['test:1'], Layers: ['l1/layer.tar'] }]));
    const fresh = path.join(dir, 'root2');
    const r = await lcow(['run', '--root', fresh, img, '--', '/bin/cat', '/etc/os-release']);
    expect(r.stdout.toString()).toBe('NAME=lcow-test\n');
    expect(r.code).toBe(0);
  });

  it('lcow driver get: --write (stdin) into a sandbox, then --cat and --ls, each in its own VM', async () => {
    const drv = (...args: string[]) => ['driver', args[0]!, '--root', root, ...args.slice(1)];
    expect((await lcow(drv('create-read-write', 'box', 'base'))).code).toBe(0);
    expect((await lcow(drv('get', 'box', '--write', '/note with space.txt'), 'via stdin\n')).code).toBe(0);
    expect((await lcow(drv('get', 'box', '--cat', '/note with space.txt'))).stdout.toString()).toBe('via stdin\n');
    const ls = JSON.parse((await lcow(drv('get', 'box', '--ls', '/'))).stdout.toString()) as string[];
    expect(ls).toEqual(expect.arrayContaining(['bin', 'etc', 'note with space.txt']));
    expect(JSON.parse((await lcow(drv('status'))).stdout.toString())).toMatchObject({ serviceVms: [] });
  });
});
