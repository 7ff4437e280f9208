// The graph-driver plugin over a real unix socket, with the real LcowDriver
// on the fake backend: each verb's JSON as dockerd 20.10 sends and reads it,
// errors as {"Err"}, streaming Diff and ApplyDiff, the socket's mode,
// Get directories, and Init/Cleanup across a daemon restart.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { servePlugin, type PluginServer } from '../../src/plugin/index.js';
import { layerTar, readTar } from '../driver/helpers/layers.js';
import { call } from './helpers/call.js';

let dir: string;
let root: string;
let socket: string;
let server: PluginServer | undefined;

async function bytes(s: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function start(): Promise<PluginServer> {
  server = await servePlugin({ root, socketPath: socket, driver: { backend: new FakeBackend() } });
  return server;
}

async function init(): Promise<void> {
  expect((await call(socket, 'GraphDriver.Init', { Home: path.join(dir, 'home'), Opts: null, UIDMaps: null, GIDMaps: null })).json).toEqual({});
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lcow-plugin-'));
  root = path.join(dir, 'root');
  socket = path.join(dir, 'plugins', 'lcowtest.sock');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('graph-driver plugin server', () => {
  it('is owner-only on its socket, and refuses to start beside a live one', async () => {
    await start();
    const st = statSync(socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    // Nothing of the private bind directory is left beside it.
    expect(readdirSync(path.dirname(socket))).toEqual(['lcowtest.sock']);
    await expect(servePlugin({ root: path.join(dir, 'other'), socketPath: socket })).rejects.toMatchObject({ code: 'EBUSY' });
    await server!.close();
    server = undefined;
    expect(existsSync(socket)).toBe(false);
  });

  it('replaces a dead socket left by a killed server', async () => {
    // A socket file nobody listens on: bind, then close without unlinking (what SIGKILL leaves).
    const stale = net.createServer();
    mkdirSync(path.dirname(socket), { recursive: true });
    await new Promise<void>((r) => stale.listen(socket, r));
    // Moved away and back around the close, so that the unlink on close misses it.
    renameSync(socket, socket + '.keep');
    await new Promise<void>((r) => stale.close(() => r()));
    renameSync(socket + '.keep', socket);
    expect(statSync(socket).isSocket()).toBe(true);
    await start();
    expect((await call(socket, 'Plugin.Activate')).json).toEqual({ Implements: ['GraphDriver'] });
  });

  it('answers each verb as the daemon reads it', async () => {
    await start();
    expect((await call(socket, 'Plugin.Activate')).json).toEqual({ Implements: ['GraphDriver'] });
    // Before Init, verbs that need the driver fail with a typed error; Capabilities needs nothing.
    const early = await call(socket, 'GraphDriver.Status');
    expect(early.status).toBe(500);
    expect(early.json).toEqual({ Err: expect.stringMatching(/^EINVAL: .*Init first/) });
    await init();
    expect((await call(socket, 'GraphDriver.Capabilities')).json).toEqual({ Capabilities: { ReproducesExactDiffs: false } });
    const status = (await call(socket, 'GraphDriver.Status')).json as { Status: Array<[string, string]> };
    expect(status.Status).toContainEqual(['driver', 'lcow']);
    expect(status.Status).toContainEqual(['dataRoot', root]);

    const base = await bytes(
      layerTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/hostname', data: 'base\n' },
        { name: 'bin/', type: 'directory' },
        { name: 'bin/sh', data: Buffer.alloc(5000, 7), mode: 0o755 },
      ]),
    );
    expect((await call(socket, 'GraphDriver.Create', { ID: 'base', Parent: '', MountLabel: '', StorageOpt: null })).json).toEqual({});
    const applied = await call(socket, 'GraphDriver.ApplyDiff', base, 'id=base&parent=');
    expect(applied.status).toBe(200);
    expect(applied.json).toEqual({ Size: expect.any(Number) });
    expect((await call(socket, 'GraphDriver.Exists', { ID: 'base' })).json).toEqual({ Exists: true });
    expect((await call(socket, 'GraphDriver.Exists', { ID: 'nope' })).json).toEqual({ Exists: false });
    const meta = (await call(socket, 'GraphDriver.GetMetadata', { ID: 'base' })).json as { Metadata: Record<string, string> };
    expect(meta.Metadata).toMatchObject({ kind: 'layer', parents: '' });

    // A layer applied by id alone (docker load's Create + ApplyDiff with a parent).
    const top = await bytes(
      layerTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/.wh.hostname', data: '' },
        { name: 'etc/motd', data: 'hi\n' },
      ]),
    );
    await call(socket, 'GraphDriver.Create', { ID: 'top', Parent: 'base' });
    expect((await call(socket, 'GraphDriver.ApplyDiff', top, 'id=top&parent=base')).status).toBe(200);
    const changes = (await call(socket, 'GraphDriver.Changes', { ID: 'top', Parent: 'base' })).json;
    // moby's archive.Change: Kind 0 modify, 1 add, 2 delete.
    expect(changes).toEqual({
      Changes: [
        { Path: '/etc', Kind: 0 },
        { Path: '/etc/hostname', Kind: 2 },
        { Path: '/etc/motd', Kind: 1 },
      ],
    });
    expect((await call(socket, 'GraphDriver.DiffSize', { ID: 'top', Parent: 'base' })).json).toEqual({ Size: 3 });

    // Diff streams the tar itself as the answer.
    const diff = await call(socket, 'GraphDriver.Diff', { ID: 'top', Parent: 'base' });
    expect(diff.status).toBe(200);
    expect(diff.headers['content-type']).toBe('application/x-tar');
    expect((await readTar(Readable.from([diff.body]))).map((e) => e.name)).toEqual(['etc', 'etc/.wh.hostname', 'etc/motd']);

    // Remove, child first; removing a missing layer is not an error (the daemon retries).
    expect((await call(socket, 'GraphDriver.Remove', { ID: 'top' })).json).toEqual({});
    expect((await call(socket, 'GraphDriver.Remove', { ID: 'top' })).json).toEqual({});
    expect((await call(socket, 'GraphDriver.Exists', { ID: 'top' })).json).toEqual({ Exists: false });
    expect((await call(socket, 'GraphDriver.Cleanup')).json).toEqual({});
  });

  it('reports failures as HTTP 500 {"Err": "<CODE>: …"}, unknown verbs as 404', async () => {
    await start();
    await init();
    const cases: Array<[string, unknown, RegExp]> = [
      ['GraphDriver.Create', { ID: '../escape' }, /^EINVAL: bad layer id/],
      ['GraphDriver.Create', { ID: 'x', Parent: 'missing' }, /^ENOTFOUND: /],
      ['GraphDriver.Get', { ID: 'missing' }, /^ENOTFOUND: /],
      ['GraphDriver.Create', {}, /^EINVAL: Create: ID is required/],
      ['GraphDriver.Create', { ID: 7 }, /^EINVAL: Create: ID must be a string/],
      ['GraphDriver.Create', { ID: 'y', StorageOpt: { 'lcow.sandboxsize': 3 } }, /^EINVAL: .*StorageOpt/],
      ['GraphDriver.CreateReadWrite', { ID: 'z', StorageOpt: { 'lcow.sandboxsize': '1' } }, /^EBADOPTION: /],
    ];
    for (const [verb, body, err] of cases) {
      const r = await call(socket, verb, body);
      expect(r.status, `${verb} ${JSON.stringify(body)}`).toBe(500);
      expect((r.json as { Err: string }).Err).toMatch(err);
    }
    const notJson = await call(socket, 'GraphDriver.Exists', Buffer.from('{nope'));
    expect((notJson.json as { Err: string }).Err).toMatch(/^EINVAL: GraphDriver.Exists: the request body is not JSON/);
    const unknown = await call(socket, 'GraphDriver.DiffGetter', { ID: 'x' });
    expect(unknown.status).toBe(404);
    expect((unknown.json as { Err: string }).Err).toMatch(/^EUNSUPPORTED: /);
    const uidMaps = await call(socket, 'GraphDriver.Init', { Home: dir, UIDMaps: [{ ContainerID: 0, HostID: 100000, Size: 65536 }] });
    expect((uidMaps.json as { Err: string }).Err).toMatch(/^EUNSUPPORTED: user-namespace remapping/);
    // A bad tar fails ApplyDiff with the converter's code, and leaves no layer behind.
    const badTar = await call(socket, 'GraphDriver.ApplyDiff', Buffer.alloc(1024, 0x41), 'id=bad&parent=');
    expect(badTar.status).toBe(500);
    expect((badTar.json as { Err: string }).Err).toMatch(/^EBADTAR: /);
    expect((await call(socket, 'GraphDriver.Exists', { ID: 'bad' })).json).toEqual({ Exists: false });
  });

  it('streams ApplyDiff in as it arrives, in pieces, and Diff out as the answer body', async () => {
    await start();
    await init();
    const big = Buffer.alloc(24 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const tar = await bytes(layerTar([{ name: 'big.bin', data: big }]));
    // Sent in 64 KiB pieces, as the daemon's SendFile does.
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let i = 0; i < tar.length; i += 65536) yield tar.subarray(i, i + 65536);
    }
    expect((await call(socket, 'GraphDriver.ApplyDiff', pieces(), 'id=big&parent=')).status).toBe(200);
    const diff = await call(socket, 'GraphDriver.Diff', { ID: 'big' });
    const entries = await readTar(Readable.from([diff.body]));
    expect(entries).toHaveLength(1);
    expect(Buffer.from(entries[0]!.data!, 'base64').equals(big)).toBe(true);
  });

  it('Get gives a read-only layer its files in a host directory, the same path every time, gone at the last Put', async () => {
    await start();
    await init();
    const tar = await bytes(
      layerTar([
        { name: 'd/', type: 'directory', mode: 0o750 },
        { name: 'd/file', data: 'content', mode: 0o4755 },
        { name: 'd/link', type: 'symlink', linkname: 'file' },
        { name: 'd/.wh.gone', data: '' },
        { name: 'unicodé ✓ name', data: 'u' },
      ]),
    );
    await call(socket, 'GraphDriver.ApplyDiff', tar, 'id=ro&parent=');
    const first = (await call(socket, 'GraphDriver.Get', { ID: 'ro', MountLabel: '' })).json as { Dir: string };
    expect(first.Dir).toBe(path.join(root, '.lcow-get', 'ro'));
    expect(readFileSync(path.join(first.Dir, 'd', 'file'), 'utf8')).toBe('content');
    expect(statSync(path.join(first.Dir, 'd', 'file')).mode & 0o7777).toBe(0o4755);
    expect(statSync(path.join(first.Dir, 'd')).mode & 0o7777).toBe(0o750);
    expect(readFileSync(path.join(first.Dir, 'unicodé ✓ name'), 'utf8')).toBe('u');
    // A whiteout is a deletion, not a file.
    expect(readdirSync(path.join(first.Dir, 'd')).sort()).toEqual(['file', 'link']);
    expect((await call(socket, 'GraphDriver.Get', { ID: 'ro' })).json).toEqual(first);
    // Got: the driver refuses to remove it.
    expect(((await call(socket, 'GraphDriver.Remove', { ID: 'ro' })).json as { Err: string }).Err).toMatch(/^EBUSY: /);
    await call(socket, 'GraphDriver.Put', { ID: 'ro' });
    expect(existsSync(first.Dir)).toBe(true);
    await call(socket, 'GraphDriver.Put', { ID: 'ro' });
    expect(existsSync(first.Dir)).toBe(false);
    // A put without get is a no-op, as the driver's.
    expect((await call(socket, 'GraphDriver.Put', { ID: 'ro' })).json).toEqual({});
    expect((await call(socket, 'GraphDriver.Remove', { ID: 'ro' })).json).toEqual({});
  });

  it('a container layer gets an empty directory; with nothing written, Put starts no VM', async () => {
    const backend = new FakeBackend();
    server = await servePlugin({ root, socketPath: socket, driver: { backend } });
    await init();
    await call(socket, 'GraphDriver.ApplyDiff', await bytes(layerTar([{ name: 'a', data: 'a' }])), 'id=img&parent=');
    await call(socket, 'GraphDriver.CreateReadWrite', { ID: 'c-init', Parent: 'img' });
    const got = (await call(socket, 'GraphDriver.Get', { ID: 'c-init' })).json as { Dir: string };
    expect(readdirSync(got.Dir)).toEqual([]);
    expect((await call(socket, 'GraphDriver.Put', { ID: 'c-init' })).json).toEqual({});
    expect(backend.vms).toHaveLength(0);
    expect(existsSync(got.Dir)).toBe(false);
  });

  it('Cleanup closes the driver; a later Init (the daemon restarted) opens the data root again with its layers', async () => {
    await start();
    await init();
    await call(socket, 'GraphDriver.ApplyDiff', await bytes(layerTar([{ name: 'a', data: 'a' }])), 'id=keep&parent=');
    await call(socket, 'GraphDriver.Get', { ID: 'keep' });
    expect(server!.driver).toBeDefined();
    expect((await call(socket, 'GraphDriver.Cleanup')).json).toEqual({});
    expect(server!.driver).toBeUndefined();
    // Get directories went with the driver.
    expect(existsSync(path.join(root, '.lcow-get'))).toBe(false);
    expect(((await call(socket, 'GraphDriver.Exists', { ID: 'keep' })).json as { Err: string }).Err).toMatch(/^EINVAL: /);
    await init();
    expect((await call(socket, 'GraphDriver.Exists', { ID: 'keep' })).json).toEqual({ Exists: true });
    // An Init without Cleanup (a crashed daemon) starts afresh: the dead daemon's gets are gone.
    await call(socket, 'GraphDriver.Get', { ID: 'keep' });
    await init();
    expect((await call(socket, 'GraphDriver.Remove', { ID: 'keep' })).json).toEqual({});
  });

  it('takes the daemon storage options (Init Opts) after its own', async () => {
    server = await servePlugin({ root, socketPath: socket, options: ['lcow.sandboxsize=30'], driver: { backend: new FakeBackend() } });
    await call(socket, 'GraphDriver.Init', { Home: dir, Opts: ['lcow.sandboxsize=40'] });
    expect(((await call(socket, 'GraphDriver.Status')).json as { Status: Array<[string, string]> }).Status).toContainEqual(['sandboxSizeGB', '40']);
    const bad = await call(socket, 'GraphDriver.Init', { Home: dir, Opts: ['lcow.sandboxsize=1'] });
    expect((bad.json as { Err: string }).Err).toMatch(/^EBADOPTION: /);
  });
});
