/**
 * `npm run demo` — the whole path an engine takes, on the embedded default
 * (QEMU under software emulation):
 *
 *   npm run demo                               # an image built here from Debian's busybox-static
 *   npm run demo -- my-image.tar [-- argv…]    # your own `docker save` tarball (or OCI layout)
 *
 * 1. an image: a `docker save` tarball whose base layer is Debian's static
 *    busybox and whose app layer has a file, a whiteout and an opaque dir;
 * 2. import: every layer converted tar → ext4 → layer.vhd on the host (diff-ids verified);
 * 3. a container sandbox (sandbox.vhdx, written on the host — no VM);
 * 4. get: a utility VM boots, the layers are hot-plugged (VPMEM, SCSI for
 *    the sandbox) and union-mounted with overlay — by qemu-guest-agent, or by
 *    hcsshim's GCS over its bridge when LCOW_GCS_BINARY names a gcs binary
 *    (the demo prints which: `guest: …`);
 * 5. a command runs in a container (runc in the VM) on that rootfs; a file is written into it;
 * 6. put, then the container's changes and its diff are read on the host;
 * 7. everything is removed and the VM is gone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LcowDriver } from '../src/driver/index.js';
import { importImage, writeDockerSave } from '../src/image/index.js';
import { appLayer, baseLayer } from './pull-and-run.js';

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dash = args.indexOf('--');
  const positional = dash >= 0 ? args.slice(0, dash) : args;
  const userArgv = dash >= 0 ? args.slice(dash + 1) : [];
  const work = await mkdtemp(path.join(tmpdir(), 'lcow-demo-'));
  const t0 = performance.now();
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    const r = await fn();
    console.log(`${name.padEnd(58)} ${String(Math.round(performance.now() - s)).padStart(6)} ms`);
    return r;
  };

  let archive = positional[0];
  if (!archive) {
    archive = path.join(work, 'demo-image.tar');
    await step('build image (busybox-static base + app layer, docker save)', async () =>
      writeDockerSave(archive!, {
        layers: [await collect(baseLayer()), await collect(appLayer())],
        config: { config: { Cmd: ['/bin/sh'] } },
        repoTags: ['lcow-demo:latest'],
      }),
    );
  }
  const argv =
    userArgv.length > 0
      ? userArgv
      : positional[0]
        ? ['/bin/sh', '-c', 'cat /etc/os-release 2>/dev/null | head -2; uname -sr; ls /']
        : ['/bin/sh', '-c', 'uname -sr; cat /app/greeting.txt; echo "etc: $(ls /etc)"; echo "var/lib: $(ls /var/lib)"; id'];

  const driver = await step(`open driver (data root ${work}/root)`, () => LcowDriver.open(path.join(work, 'root')));
  try {
    const { topLayerId, layerIds } = await step(`import ${path.basename(archive)} (tar → ext4 → layer.vhd)`, () =>
      importImage(driver, archive, {
        onProgress: (p) => p.state === 'applied' && console.log(`  layer ${p.index + 1}/${p.total} ${p.diffId.slice(0, 19)}… ${p.size} B`),
      }),
    );
    await step('createReadWrite ctr (sandbox.vhdx on the host, no VM)', () => driver.createReadWrite('ctr', topLayerId));
    const h = await step('get ctr', () => driver.get('ctr'));
    try {
      const r = await step(`boot VM, attach ${layerIds.length} layers + sandbox, overlay, run`, () => h.run(argv));
      // Which agent mounted the layers and made the union: LCOW_GCS_BINARY=/path/to/gcs makes it hcsshim's GCS.
      console.log(`  guest: ${driver.status().guestAgent ?? 'unknown'}`);
      console.log(`  $ ${argv.map((a) => JSON.stringify(a)).join(' ')}   (exit ${r.exitCode})`);
      for (const line of r.stdout.toString().trimEnd().split('\n')) console.log(`  | ${line}`);
      if (r.stderr.length > 0) for (const line of r.stderr.toString().trimEnd().split('\n')) console.log(`  ! ${line}`);
      await step('write /hello-from-demo.txt inside the container', () => h.writeFile('/hello-from-demo.txt', 'written inside the utility VM\n'));
    } finally {
      await step('put ctr (unmount, detach, stop the VM)', () => driver.put('ctr'));
    }
    const changes = await step('changes ctr (read on the host)', () => driver.changes('ctr', topLayerId));
    for (const c of changes) console.log(`  ${c.kind === 'add' ? 'A' : c.kind === 'modify' ? 'C' : 'D'} ${c.path}`);
    const diffBytes = await step('diff ctr → tar (read on the host)', async () => (await collect(await driver.diff('ctr', topLayerId))).length);
    console.log(`  ${diffBytes} bytes of tar`);
    await step('remove ctr and the image layers', async () => {
      for (const id of ['ctr', ...[...layerIds].reverse()]) await driver.remove(id);
    });
  } finally {
    await step('cleanup (no VM left running)', () => driver.cleanup());
    const st = driver.status();
    console.log(`  running service VMs: ${st.serviceVms.length}`);
    await rm(work, { recursive: true, force: true });
  }
  console.log(`demo finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
