/**
 * 127 read-only layers in one union mount — the depth hcsshim's short guest
 * paths exist for. Each layer is a real tar converted to layer.vhd; layer i
 * adds /layers/<i> and overwrites /who, the bottom one adds /base-only, and a
 * middle one whites out a file from below. The kernel resolves them all.
 *
 *   npx tsx examples/many-layers.ts [count]     (count ≤ 127, default 127)
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import { selectBackend } from '../src/backend/index.js';
import { convertTarToExt4 } from '../src/layer/index.js';
import { createUtilityVM, mountContainerLayers, overlayMountData, OVERLAY_MOUNT_DATA_MAX } from '../src/uvm/index.js';

const run = promisify(execFile);
const count = Number(process.argv[2] ?? 127);

/** A layer tar, streamed straight into the converter: path → file content (directories implied). */
function tarOf(files: Record<string, string>): AsyncIterable<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  return pack as AsyncIterable<Buffer>;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'lcow-many-'));
const t0 = performance.now();
const since = (t: number) => Math.round(performance.now() - t);
const timings: Record<string, number> = {};
try {
  const middle = Math.floor(count / 2);
  const layers: string[] = [];
  for (let i = 0; i < count; i++) {
    // index 0 is the top-most layer
    const files: Record<string, string> = { [`layers/${i}`]: `${i}\n`, who: `layer ${i}\n` };
    if (i === count - 1) Object.assign(files, { 'base-only': 'from the bottom layer\n', 'doomed.txt': 'whited out above\n' });
    if (i === middle) files['.wh.doomed.txt'] = '';
    await mkdir(path.join(dir, `l${i}`));
    const out = path.join(dir, `l${i}`, 'layer.vhd');
    await convertTarToExt4(tarOf(files), out, { whiteouts: true });
    layers.push(out);
  }
  const scratch = path.join(dir, 'sandbox.img');
  await run('mkfs.ext4', ['-q', '-F', scratch, '64M']);
  timings.convert = since(t0);

  const uvm = await createUtilityVM({ id: `many-${process.pid}`, backend: await selectBackend('auto'), memoryMiB: 768, cpus: 1 });
  let t = performance.now();
  await uvm.start();
  timings.boot = since(t);
  try {
    t = performance.now();
    const c = await mountContainerLayers(uvm, layers, scratch, '/run/c/many');
    timings.mount = since(t);
    const vpmem = c.layers.filter((l) => l.placement === 'vpmem').length;
    console.log(`layers: ${c.layers.length} (vpmem ${vpmem}, scsi ${c.layers.length - vpmem})`);
    console.log(`overlay mount data: ${Buffer.byteLength(overlayMountData(c.union.request))} bytes (limit ${OVERLAY_MOUNT_DATA_MAX})`);
    const cat = async (p: string) => {
      const r = await uvm.exec(['cat', `${c.rootfs}${p}`]);
      return r.exitCode === 0 ? r.stdout.toString().trim() : `(missing: exit ${r.exitCode})`;
    };
    console.log(`/who: ${await cat('/who')}`);
    console.log(`/base-only: ${await cat('/base-only')}`);
    console.log(`/doomed.txt: ${await cat('/doomed.txt')}`);
    const listed = (await uvm.exec(['ls', `${c.rootfs}/layers`])).stdout.toString().split('\n').filter(Boolean);
    console.log(`entries in /layers: ${listed.length}`);
    t = performance.now();
    await c.release();
    timings.teardown = since(t);
    const mounts = (await uvm.exec(['cat', '/proc/mounts'])).stdout
      .toString()
      .split('\n')
      .filter((l) => / \/run\/(m|c)\//.test(l));
    const devices = (await uvm.exec(['ls', '/sys/bus/scsi/devices'])).stdout
      .toString()
      .split('\n')
      .filter((e) => /^\d+:\d+:\d+:\d+$/.test(e));
    console.log(`mounts left: ${mounts.length}, scsi devices left: ${devices.length}`);
  } finally {
    t = performance.now();
    await uvm.terminate();
    timings.terminate = since(t);
  }
  console.log(
    `timings (ms): ${Object.entries(timings)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
