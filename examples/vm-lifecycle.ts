/**
 * A utility VM's life, end to end, on this machine's hypervisor:
 *
 *   boot → two read-only layers (real tars converted to layer.vhd) + a
 *   read-write scratch → one union mount → cat / ls inside → a write that
 *   lands in the scratch's upper dir → teardown → terminate, with timings.
 *
 *   npx tsx examples/vm-lifecycle.ts
 *
 * Set LCOW_LOG_LEVEL=debug to see the library's logs on stderr.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { selectBackend } from '../src/backend/index.js';
import { convertTarToExt4 } from '../src/layer/index.js';
import { createUtilityVM, mountContainerLayers } from '../src/uvm/index.js';

const run = promisify(execFile);

/** A layer tar in memory: path → file content (directories are implied). */
/** A layer tar, streamed straight into the converter: path → file content (directories implied). */
function tarOf(files: Record<string, string>): AsyncIterable<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  return pack as AsyncIterable<Buffer>;
}

async function layer(dir: string, name: string, files: Record<string, string>): Promise<string> {
  await mkdir(path.join(dir, name));
  const out = path.join(dir, name, 'layer.vhd');
  await convertTarToExt4(tarOf(files), out, { whiteouts: true });
  return out;
}

async function timed<T>(timings: Record<string, number>, name: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - t);
  }
}

async function sh(uvm: Awaited<ReturnType<typeof createUtilityVM>>, argv: string[], stdin?: string): Promise<string> {
  const r = await uvm.exec(argv, { stdin });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'lcow-example-'));
const timings: Record<string, number> = {};
try {
  // Top-most first, as an engine passes them: top shadows /etc/motd and whites out /gone.
  const base = await layer(dir, 'base', {
    'etc/os-release': 'NAME=example-base\n',
    'etc/motd': 'motd from the base layer\n',
    'gone/file': 'hidden by the top layer\n',
  });
  const top = await layer(dir, 'top', { 'etc/motd': 'motd from the top layer\n', 'app/hello.txt': 'hello from the app layer\n', '.wh.gone': '' });
  const scratch = path.join(dir, 'sandbox.img');
  await run('mkfs.ext4', ['-q', '-F', scratch, '64M']);

  const uvm = await createUtilityVM({ id: `example-${process.pid}`, backend: await selectBackend('auto'), memoryMiB: 512, cpus: 1 });
  await timed(timings, 'boot', () => uvm.start());
  try {
    const c = await timed(timings, 'mount', () => mountContainerLayers(uvm, [top, base], scratch, '/run/c/example'));
    for (const l of c.layers)
      console.log(`layer ${path.basename(path.dirname(l.hostPath))}: ${l.placement}${l.fallbackReason ? ` (${l.fallbackReason})` : ''} at ${l.guestPath}`);
    console.log(`scratch: scsi ${c.scratch?.controller}:${c.scratch?.lun} at ${c.scratch?.guestPath}`);
    console.log(`rootfs: ${c.rootfs}`);
    await timed(timings, 'exec', async () => {
      console.log(`$ cat /etc/motd\n${await sh(uvm, ['cat', `${c.rootfs}/etc/motd`])}`.trimEnd());
      console.log(`$ cat /etc/os-release\n${await sh(uvm, ['cat', `${c.rootfs}/etc/os-release`])}`.trimEnd());
      console.log(`$ ls /\n${(await sh(uvm, ['ls', `${c.rootfs}/`])).split('\n').filter(Boolean).join(' ')}`);
      await sh(uvm, ['tee', `${c.rootfs}/written.txt`], 'written inside the container\n');
      console.log(`upper dir after the write: ${(await sh(uvm, ['ls', c.union.request.upperDir!])).split('\n').filter(Boolean).join(' ')}`);
    });
    await timed(timings, 'teardown', () => c.release());
    const left = (await sh(uvm, ['cat', '/proc/mounts'])).split('\n').filter((l) => l.includes(' /run/m/') || l.includes(' /run/c/'));
    console.log(`mounts left: ${left.length}`);
  } finally {
    await timed(timings, 'terminate', () => uvm.terminate());
  }
  const { stdout } = await run('debugfs', ['-R', 'cat /upper/written.txt', scratch]);
  console.log(`on the host, sandbox upper/written.txt: ${stdout.trim()}`);
  console.log(
    `timings (ms): ${Object.entries(timings)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
