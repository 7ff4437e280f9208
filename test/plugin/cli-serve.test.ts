// `lcow plugin serve` as a process: it serves until SIGTERM, which runs the
// daemon's Cleanup (Get directories given back, the data root unlocked) and
// removes the socket before exiting 0.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LcowDriver } from '../../src/driver/index.js';
import { layerTar } from '../driver/helpers/layers.js';
import { call } from './helpers/call.js';

const MAIN = pathToFileURL(path.join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts')).href;
const dir = mkdtempSync(path.join(tmpdir(), 'lcow-plugin-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('lcow plugin serve', () => {
  it('serves on an owner-only socket until SIGTERM, then cleans up and exits 0', async () => {
    const root = path.join(dir, 'root');
    const socket = path.join(dir, 'run', 'lcowcli.sock');
    const boot = `import(${JSON.stringify(MAIN)}).then((m) => m.main(process.argv.slice(1))).then((c) => { process.exitCode = c; })`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', boot, '--', 'plugin', 'serve', '--root', root, '--socket', socket], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // The socket appears a moment before the server's line reaches this process's pipe: wait for both.
    await until(() => existsSync(socket) && stderr.includes('serving on'), 30_000);
    expect(stderr).toMatch(/serving on .*lcowcli\.sock/);
    expect(statSync(socket).mode & 0o777).toBe(0o600);

    await call(socket, 'GraphDriver.Init', { Home: dir, Opts: [] });
    const tar: Buffer[] = [];
    for await (const c of layerTar([{ name: 'f', data: 'x' }])) tar.push(c as Buffer);
    expect((await call(socket, 'GraphDriver.ApplyDiff', Buffer.concat(tar), 'id=l&parent=')).status).toBe(200);
    const got = (await call(socket, 'GraphDriver.Get', { ID: 'l' })).json as { Dir: string };
    expect(readdirSync(got.Dir)).toEqual(['f']);
    // The root is the server's: a second opener is refused while it serves.
    await expect(LcowDriver.open(root)).rejects.toMatchObject({ code: 'EBUSY' });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/SIGTERM: cleaning up/);
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(got.Dir)).toBe(false);
    // Cleanup gave the data root back; its layer is still there.
    const d = await LcowDriver.open(root);
    expect(await d.exists('l')).toBe(true);
    await d.cleanup();
  }, 60_000);

  it('refuses bad arguments with a typed error', async () => {
    const { lcow } = await import('../driver/helpers/cli.js');
    const r = await lcow(['plugin', 'serve', '--root', dir, '--verb-timeout', 'soon']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/EINVAL: --verb-timeout must be a whole number/);
  });
});
