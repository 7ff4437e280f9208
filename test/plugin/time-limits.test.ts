// Every verb races a time limit on silence (the daemon's plugin client has
// none): a stuck verb answers ETIMEOUT, streams that keep moving are not cut,
// and a Get that succeeds after its limit is put again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { GraphDriverPlugin, PluginHttpServer, type PluginDriver } from '../../src/plugin/index.js';
import { call } from './helpers/call.js';

let dir: string;
let http: PluginHttpServer;
let stub: Stub;

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** A driver whose verbs do what each test says; by default they succeed at once. */
class Stub implements PluginDriver {
  puts: string[] = [];
  removed: string[] = [];
  getDelay: Promise<void> = Promise.resolve();
  create = async (): Promise<void> => undefined;
  createReadWrite = async () => undefined;
  remove = async (id: string) => void this.removed.push(id);
  exists = async () => true;
  async applyDiff(_id: string, _parent: string, tar: AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal }): Promise<number> {
    let n = 0;
    for await (const c of tar) {
      opts.signal?.throwIfAborted();
      n += c.length;
    }
    return n;
  }
  changes = () => never<never>();
  diffSize = async () => 0;
  status = () => ({ driver: 'stub' });
  cleanup = async () => undefined;
  get = async () => {
    await this.getDelay;
    return { place: async () => 'made' as const };
  };
  put = async (id: string) => void this.puts.push(id);
  diff = async (): Promise<Readable> => Readable.from(slow(12, 60));
  getMetadata = async () => ({ kind: 'sandbox' });
}

/** `n` chunks, one every `ms`: always moving, slower in total than the limit. */
async function* slow(n: number, ms: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, ms));
    yield Buffer.alloc(512, i);
  }
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lcow-plugin-limits-'));
  stub = new Stub();
  const plugin = new GraphDriverPlugin({ open: async () => stub, dirsRoot: path.join(dir, 'get'), logger: silentLogger });
  http = await PluginHttpServer.listen({ socketPath: path.join(dir, 'p.sock'), verbs: plugin.verbs(), verbTimeoutMs: 300, logger: silentLogger });
  await call(http.socketPath, 'GraphDriver.Init', { Home: dir });
});
afterEach(async () => {
  await http.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('verb time limits', () => {
  it('a verb that never answers fails ETIMEOUT at the limit', async () => {
    const t0 = Date.now();
    const r = await call(http.socketPath, 'GraphDriver.Changes', { ID: 'x', Parent: '' });
    expect(r.status).toBe(500);
    expect((r.json as { Err: string }).Err).toMatch(/^ETIMEOUT: GraphDriver.Changes: no progress for 300 ms/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('a Diff that keeps streaming is not cut, though it takes longer than the limit', async () => {
    const t0 = Date.now();
    const r = await call(http.socketPath, 'GraphDriver.Diff', { ID: 'x' });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(12 * 512);
    expect(Date.now() - t0).toBeGreaterThan(600);
  });

  it('an ApplyDiff upload that keeps moving is not cut; one that stalls is', async () => {
    const moving = await call(http.socketPath, 'GraphDriver.ApplyDiff', slow(10, 60), 'id=a&parent=');
    expect(moving.json).toEqual({ Size: 10 * 512 });
    async function* stalls(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(512);
      await new Promise((r) => setTimeout(r, 1500));
      yield Buffer.alloc(512);
    }
    const stalled = await call(http.socketPath, 'GraphDriver.ApplyDiff', stalls(), 'id=b&parent=').catch((e: unknown) => e as Error);
    // Either the 500 arrives before the client finishes sending, or the server hung up on the stalled upload.
    if (stalled instanceof Error) expect(stalled.message).toMatch(/socket|EPIPE|ECONNRESET/);
    else expect((stalled.json as { Err: string }).Err).toMatch(/^ETIMEOUT: /);
  });

  it('a Get that succeeds after its limit is put again (the daemon took it for failed)', async () => {
    let release!: () => void;
    stub.getDelay = new Promise<void>((r) => (release = r));
    const r = await call(http.socketPath, 'GraphDriver.Get', { ID: 'late' });
    expect((r.json as { Err: string }).Err).toMatch(/^ETIMEOUT: /);
    release();
    await new Promise((r) => setTimeout(r, 100));
    expect(stub.puts).toEqual(['late']);
  });

  it('a Create that succeeds after its limit is removed again', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    stub.create = () => gate;
    const r = await call(http.socketPath, 'GraphDriver.Create', { ID: 'late' });
    expect((r.json as { Err: string }).Err).toMatch(/^ETIMEOUT: /);
    release();
    await new Promise((r) => setTimeout(r, 100));
    expect(stub.removed).toEqual(['late']);
  });
});
