/**
 * `npm run bench:uvm`: the QEMU backend against bare QEMU, measured in the
 * same run with the same kernel and initrd. "Bare" is qemu-system-x86_64
 * spawned by hand with a minimal argv, and a minimal QMP / agent exchange
 * written here — the floor the backend's own work sits on. Runs alternate
 * bare/backend so load from other processes hits both alike; each figure
 * is the median of RUNS runs. Prints a table with ratios (backend / bare).
 *
 * VM start is measured three ways side by side: bare QEMU's cold boot, the
 * backend's cold boot (templates off) and its start from a template (the
 * template is built before timing starts), with no VPMEM slots and with the
 * driver's 64 (bare: a PCIe root port each; the backend: ACPI hot-plug
 * bridges). The 127-layer rows put mountContainerLayers (64 VPMEM + 63 SCSI,
 * as the driver places them) and its release next to bare QEMU hot-adding
 * 127 SCSI disks, mounting them with one guest script and overlaying them.
 *
 * With LCOW_GCS_BINARY=/path/to/gcs it also runs one VM in gcs mode and
 * times a SCSI mount and an exec through hcsshim's GCS bridge next to the
 * same through qemu-guest-agent, in that one VM; without it, it says so.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QemuAgentGuestOps, QemuBackend, ensureGuestImage, type QemuVm } from '../src/backend/qemu/index.js';
import type { VmSpec } from '../src/backend/index.js';
import { median } from './measure.js';
import { createUtilityVM, mountContainerLayers } from '../src/uvm/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LAYERS = 127;
const image = await ensureGuestImage();
// The qemu-guest-agent backend, whatever LCOW_GCS_BINARY says: its figures stay comparable run to run.
const backend = new QemuBackend({ guest: 'qemu-guest-agent', templates: false });
const templated = new QemuBackend({ guest: 'qemu-guest-agent', templates: true });
const GCS_BINARY = process.env.LCOW_GCS_BINARY || undefined;
// Bare QEMU runs with the accelerator ours chose (auto: KVM only where a probe VM boots with it).
const accel = await backend.accel({ kernelPath: image.kernelPath, initrdPath: image.initrdPath });
console.log(`accelerator: ${accel}`);
const work = await mkdtemp(path.join(os.tmpdir(), 'lcow-bench-'));

const time = async (fn: () => Promise<void>): Promise<number> => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

// ---- test disks -------------------------------------------------------
async function ext4(name: string, files: Record<string, string>, sizeMiB: number): Promise<string> {
  const content = path.join(work, `${name}.d`);
  await mkdir(content, { recursive: true });
  for (const [f, data] of Object.entries(files)) await writeFile(path.join(content, f), data);
  const img = path.join(work, `${name}.img`);
  execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', content, img, `${sizeMiB}M`], { stdio: 'ignore' });
  return img;
}

// ---- bare QEMU --------------------------------------------------------
interface Bare {
  child: ChildProcess;
  dir: string;
  qmp: (cmd: string, args?: object) => Promise<unknown>;
  ga: (cmd: string, args?: object) => Promise<unknown>;
}

/** One JSON-per-line reader: the next line, whatever it is. */
function lineReader(sock: net.Socket): () => Promise<Record<string, unknown>> {
  let buf = '';
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  sock.on('data', (b: Buffer) => {
    buf += b.toString('latin1').replace(/\xff/g, '');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  return async () => {
    while (lines.length === 0) await new Promise<void>((r) => (wake = r));
    return JSON.parse(lines.shift() as string) as Record<string, unknown>;
  };
}

async function connectRetry(p: string): Promise<net.Socket> {
  for (;;) {
    try {
      return await new Promise<net.Socket>((res, rej) => {
        const s = net.createConnection(p, () => res(s));
        s.once('error', rej);
      });
    } catch {
      await sleep(5);
    }
  }
}

async function bareBoot(vpmemSlots: number, scsiControllers = 1): Promise<Bare> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bare-'));
  const mem = vpmemSlots ? `512M,slots=${vpmemSlots},maxmem=${512 + vpmemSlots * 64}M` : '512M';
  const args = [
    '-accel',
    accel,
    '-M',
    'q35',
    '-nodefaults',
    '-nographic',
    '-display',
    'none',
    '-serial',
    'none',
    '-m',
    mem,
    '-smp',
    '1',
    '-kernel',
    image.kernelPath,
    '-initrd',
    image.initrdPath,
    '-append',
    'panic=-1 quiet',
    '-no-reboot',
    '-qmp',
    `unix:${dir}/qmp,server=on,wait=off`,
    '-device',
    'virtio-serial-pci',
    '-chardev',
    `socket,id=ga,path=${dir}/ga,server=on,wait=off`,
    '-device',
    'virtserialport,chardev=ga,name=org.qemu.guest_agent.0',
  ];
  for (let c = 0; c < scsiControllers; c++) args.push('-device', `virtio-scsi-pci,id=scsi${c}`);
  // a root port per slot, eight functions per PCI device (without addresses QEMU runs out of slots at 25)
  for (let s = 0; s < vpmemSlots; s++) {
    const addr = `0x${(0x10 + Math.floor(s / 8)).toString(16)}.${s % 8}${s % 8 === 0 ? ',multifunction=on' : ''}`;
    args.push('-device', `pcie-root-port,id=rp${s},chassis=${s + 1},bus=pcie.0,addr=${addr}`);
  }
  const child = spawn('qemu-system-x86_64', args, { stdio: 'ignore' });
  const qsock = await connectRetry(`${dir}/qmp`);
  const qnext = lineReader(qsock);
  await qnext(); // greeting
  let qid = 0;
  const qmp = async (cmd: string, a?: object): Promise<unknown> => {
    const id = ++qid;
    qsock.write(JSON.stringify({ execute: cmd, arguments: a, id }) + '\n');
    for (;;) {
      const m = await qnext();
      if (m.id === id) {
        if (m.error) throw new Error(JSON.stringify(m.error));
        return m.return;
      }
    }
  };
  await qmp('qmp_capabilities');
  const gsock = await connectRetry(`${dir}/ga`);
  const gnext = lineReader(gsock);
  // agent-ready: a sync answered (retried until the guest listens)
  for (let id = 1; ; id++) {
    gsock.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n')]));
    const got = await Promise.race([
      (async () => {
        for (;;) {
          const m = await gnext();
          if (m.return === id) return true;
        }
      })(),
      sleep(1000).then(() => false),
    ]);
    if (got) break;
  }
  const ga = async (cmd: string, a?: object): Promise<unknown> => {
    gsock.write(JSON.stringify({ execute: cmd, arguments: a }) + '\n');
    const m = await gnext();
    if (m.error) throw new Error(JSON.stringify(m.error));
    return m.return;
  };
  return { child, dir, qmp, ga };
}

async function bareExec(b: Bare, argv: string[]): Promise<void> {
  const { pid } = (await b.ga('guest-exec', { path: argv[0], arg: argv.slice(1), 'capture-output': true })) as { pid: number };
  for (;;) {
    const st = (await b.ga('guest-exec-status', { pid })) as { exited: boolean; exitcode?: number };
    if (st.exited) {
      if (st.exitcode !== 0) throw new Error(`${argv.join(' ')} exited ${st.exitcode}`);
      return;
    }
    await sleep(2);
  }
}

async function bareStop(b: Bare): Promise<void> {
  const exited = new Promise((r) => b.child.once('exit', r));
  b.child.kill('SIGKILL');
  await exited;
  await rm(b.dir, { recursive: true, force: true });
}

// ---- backend ----------------------------------------------------------
let vmCount = 0;
async function backendBoot(over: Partial<VmSpec> = {}, from: QemuBackend = backend): Promise<QemuVm> {
  const vm = await from.createVm({
    id: `bench-${++vmCount}`,
    memoryMiB: 512,
    cpus: 1,
    boot: { kind: 'kernel-initrd', kernelPath: image.kernelPath, initrdPath: image.initrdPath },
    scsiControllers: 1,
    vpmem: { count: 0, maxSizeBytes: 0 },
    ...over,
  });
  await vm.start();
  return vm;
}

// ---- measurements -----------------------------------------------------
const rows: Array<{ what: string; bare?: number; ours: number }> = [];
const layer = await ext4('layer', { 'f.txt': 'x' }, 4);

const rows3: Array<{ what: string; bare: number; cold: number; template: number }> = [];
for (const slots of [0, 64]) {
  // start to agent-ready: bare cold boot, ours cold, ours from a template (built first, untimed)
  const spec = { vpmem: { count: slots, maxSizeBytes: slots ? 4 * 1024 ** 3 : 0 } };
  await (await backendBoot(spec, templated)).terminate();
  const bare: number[] = [];
  const cold: number[] = [];
  const tpl: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let b: Bare | undefined;
    bare.push(
      await time(async () => {
        b = await bareBoot(slots);
      }),
    );
    await bareStop(b as Bare);
    for (const [from, into] of [
      [backend, cold],
      [templated, tpl],
    ] as const) {
      let vm: QemuVm | undefined;
      into.push(
        await time(async () => {
          vm = await backendBoot(spec, from);
        }),
      );
      if ((await vm!.properties()).startMode !== (from === backend ? 'cold' : 'template')) throw new Error('the VM did not start the way it was asked to');
      await vm?.terminate();
    }
  }
  rows3.push({ what: `start → agent ready, ${slots} VPMEM slots`, bare: median(bare), cold: median(cold), template: median(tpl) });
}

{
  // SCSI hot-add + mount, and VPMEM hot-add + mount (fresh LUN / slot each run)
  const b = await bareBoot(RUNS);
  const vm = await backendBoot({ vpmem: { count: RUNS, maxSizeBytes: 64 << 20 } });
  const scsiBare: number[] = [];
  const scsiOurs: number[] = [];
  const pmemBare: number[] = [];
  const pmemOurs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const steps = {
      scsiBare: () =>
        time(async () => {
          await b.qmp('blockdev-add', { driver: 'raw', 'node-name': `d${i}`, 'read-only': true, file: { driver: 'file', filename: layer, 'read-only': true } });
          await b.qmp('device_add', { driver: 'scsi-hd', id: `s${i}`, drive: `d${i}`, bus: 'scsi0.0', 'scsi-id': 0, lun: i });
          await bareExec(b, [
            '/bin/sh',
            '-c',
            `until d=$(ls /sys/bus/scsi/devices/0:0:0:${i}/block/ 2>/dev/null) && [ -n "$d" ]; do sleep 0.01; done; mkdir -p /m/s${i} && mount -t ext4 -o ro,noload /dev/$d /m/s${i}`,
          ]);
        }),
      scsiOurs: () =>
        time(async () => {
          await vm.addScsiDisk(0, i, { hostPath: layer, readOnly: true });
          await vm.mountScsi({ controller: 0, lun: i, guestPath: `/run/m/s${i}`, readOnly: true });
        }),
      pmemBare: () =>
        time(async () => {
          await b.qmp('object-add', { 'qom-type': 'memory-backend-file', id: `m${i}`, 'mem-path': layer, size: 4 << 20, share: false, readonly: true });
          await b.qmp('device_add', { driver: 'virtio-pmem-pci', id: `p${i}`, memdev: `m${i}`, bus: `rp${i}` });
          await bareExec(b, [
            '/bin/sh',
            '-c',
            `until [ -b /dev/pmem${i} ]; do sleep 0.01; done; mkdir -p /m/p${i} && mount -t ext4 -o ro,noload,dax /dev/pmem${i} /m/p${i}`,
          ]);
        }),
      pmemOurs: () =>
        time(async () => {
          const added = await vm.addVpmemDevice(i, { hostPath: layer });
          if (!added.added) throw new Error(`VPMEM refused the bench layer: ${added.detail}`);
          await vm.mountVpmem({ slot: i, guestPath: `/run/m/p${i}` });
        }),
    };
    // alternate which side goes first, so neither always runs right after the other's hot-plug
    const bareFirst = i % 2 === 0;
    for (const kind of ['scsi', 'pmem'] as const) {
      const order = bareFirst ? (['Bare', 'Ours'] as const) : (['Ours', 'Bare'] as const);
      for (const side of order) {
        const ms = await steps[`${kind}${side}`]();
        ({ scsiBare, scsiOurs, pmemBare, pmemOurs })[`${kind}${side}`].push(ms);
      }
    }
  }
  rows.push({ what: 'SCSI hot-add + mount', bare: median(scsiBare), ours: median(scsiOurs) });
  rows.push({ what: 'VPMEM hot-add + mount', bare: median(pmemBare), ours: median(pmemOurs) });
  await bareStop(b);
  await vm.terminate();
}

{
  // 127 layers. Bare: hot-add 127 SCSI disks over QMP, one guest script mounts them all and overlays them;
  // teardown: one script unmounts, then device_del + blockdev-del each. Ours: mountContainerLayers and release.
  const layers: string[] = [];
  for (let i = 0; i < LAYERS; i++) layers.push(await ext4(`l${i}`, { [`file${i}`]: String(i) }, 2));
  const b = await bareBoot(0, 2);
  const uvm = await createUtilityVM({ id: `bench-many-${process.pid}`, backend: templated, memoryMiB: 768, cpus: 1 });
  await uvm.start();
  const mountBare: number[] = [];
  const downBare: number[] = [];
  const mountOurs: number[] = [];
  const downOurs: number[] = [];
  let placed = '';
  // the SCSI host numbers of the two controllers, then each disk by host:0:0:lun
  const bareMount =
    'set -- $(ls -d /sys/bus/pci/devices/*/virtio*/host* | sed "s/.*host//"); h0=$1; h1=$2; ' +
    `for i in $(seq 0 ${LAYERS - 1}); do if [ $((i % 2)) = 0 ]; then h=$h0; else h=$h1; fi; d=/sys/bus/scsi/devices/$h:0:0:$((i / 2))/block; ` +
    'until [ -d $d ]; do sleep 0.01; done; set -- $d/*; mkdir -p /m/$i && mount -t ext4 -o ro,noload /dev/${1##*/} /m/$i || exit 1; done; ' +
    `lo=; for i in $(seq ${LAYERS - 1} -1 0); do lo=$lo\${lo:+:}/m/$i; done; mkdir -p /m/u && mount -t overlay overlay -o ro,lowerdir=$lo /m/u`;
  for (let run = 0; run < RUNS; run++) {
    mountBare.push(
      await time(async () => {
        for (let i = 0; i < LAYERS; i++) {
          await b.qmp('blockdev-add', {
            driver: 'raw',
            'node-name': `n${i}`,
            'read-only': true,
            file: { driver: 'file', filename: layers[i], 'read-only': true },
          });
          await b.qmp('device_add', { driver: 'scsi-hd', id: `h${i}`, drive: `n${i}`, bus: `scsi${i % 2}.0`, 'scsi-id': 0, lun: Math.floor(i / 2) });
        }
        await bareExec(b, ['/bin/sh', '-c', bareMount]);
      }),
    );
    downBare.push(
      await time(async () => {
        await bareExec(b, ['/bin/sh', '-c', `umount /m/u && for i in $(seq 0 ${LAYERS - 1}); do umount /m/$i || exit 1; done`]);
        for (let i = 0; i < LAYERS; i++) await b.qmp('device_del', { id: `h${i}` });
        for (let i = 0; i < LAYERS; i++) {
          for (let tries = 0; ; tries++) {
            try {
              await b.qmp('blockdev-del', { 'node-name': `n${i}` });
              break;
            } catch (err) {
              if (tries > 500) throw err; // still in use until the guest let go of the disk
              await sleep(10);
            }
          }
        }
      }),
    );
    let c: Awaited<ReturnType<typeof mountContainerLayers>> | undefined;
    mountOurs.push(
      await time(async () => {
        c = await mountContainerLayers(uvm, layers, undefined, `/run/c/${run}`);
      }),
    );
    const vpmem = c!.layers.filter((l) => l.placement === 'vpmem').length;
    placed = `${vpmem} VPMEM + ${LAYERS - vpmem} SCSI`;
    const seen = await uvm.exec(['/bin/sh', '-c', `ls ${c!.rootfs} | wc -l`]);
    if (seen.stdout.toString().trim() !== String(LAYERS + 1 /* lost+found */)) throw new Error(`overlay shows ${seen.stdout.toString().trim()} entries`);
    downOurs.push(await time(() => c!.release()));
  }
  rows.push({
    what: `${LAYERS} layers: attach + mount + overlay (ours: mountContainerLayers, ${placed}; bare: SCSI)`,
    bare: median(mountBare),
    ours: median(mountOurs),
  });
  rows.push({ what: `${LAYERS} layers: teardown`, bare: median(downBare), ours: median(downOurs) });
  rows.push({ what: `${LAYERS} layers: teardown ÷ mount (ours)`, ours: median(downOurs) / median(mountOurs) });
  await bareStop(b);
  await uvm.terminate();
}

// ---- the GCS bridge next to qemu-guest-agent, in one VM ----------------
const agentRows: Array<{ what: string; qga: number; gcs: number }> = [];
if (GCS_BINARY) {
  const gcsBackend = new QemuBackend({ guest: { gcsBinary: GCS_BINARY } });
  const vm = await gcsBackend.createVm({
    id: `bench-gcs-${process.pid}`,
    memoryMiB: 512,
    cpus: 1,
    boot: await gcsBackend.defaultBoot(),
    scsiControllers: 1,
    vpmem: { count: 0, maxSizeBytes: 0 },
  });
  await vm.start();
  // In gcs mode (no vsock here) vm.exec is qemu-guest-agent's, vm.execViaGcs the bridge's.
  const qga = new QemuAgentGuestOps((argv, o) => vm.exec(argv, o));
  const mountGcs: number[] = [];
  const mountQga: number[] = [];
  const execGcs: number[] = [];
  const execQga: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const lunGcs = 2 * i;
    const lunQga = 2 * i + 1;
    await vm.addScsiDisk(0, lunGcs, { hostPath: layer, readOnly: true });
    await vm.addScsiDisk(0, lunQga, { hostPath: layer, readOnly: true });
    const steps = [
      async () => mountGcs.push(await time(() => vm.mountScsi({ controller: 0, lun: lunGcs, guestPath: `/run/m/g${i}`, readOnly: true }))),
      async () => mountQga.push(await time(() => qga.mountScsi({ controller: 0, lun: lunQga, guestPath: `/run/m/q${i}`, readOnly: true }))),
      async () => execGcs.push(await time(async () => void (await vm.execViaGcs(['true'])))),
      async () => execQga.push(await time(async () => void (await vm.exec(['true'])))),
    ];
    // alternate which agent goes first
    for (const s of i % 2 === 0 ? steps : [steps[1]!, steps[0]!, steps[3]!, steps[2]!]) await s();
    await vm.unmount(`/run/m/g${i}`);
    await qga.unmount(`/run/m/q${i}`);
    for (const lun of [lunGcs, lunQga]) {
      await vm.unplugScsi(0, lun);
      await vm.removeScsiDisk(0, lun);
    }
  }
  await vm.terminate();
  agentRows.push({ what: 'SCSI mount (guest side, disk already attached)', qga: median(mountQga), gcs: median(mountGcs) });
  agentRows.push({ what: 'exec `true` to exit code', qga: median(execQga), gcs: median(execGcs) });
}

await rm(work, { recursive: true, force: true });

const ms = (x: number): string => `${x.toFixed(0)} ms`;
const lines = [
  `lcow-uvm bench:uvm — QEMU ${execFileSync('qemu-system-x86_64', ['--version']).toString().split('\n')[0]!.replace('QEMU emulator version ', '')}, TCG, kernel ${image.manifest.kernelRelease}, median of ${RUNS}`,
  '',
  '| VM start | bare QEMU, cold | lcow-uvm, cold | lcow-uvm, template | cold ÷ bare | template ÷ cold | template ÷ bare |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...rows3.map(
    (r) =>
      `| ${r.what} | ${ms(r.bare)} | ${ms(r.cold)} | ${ms(r.template)} | ${(r.cold / r.bare).toFixed(2)}× | ${(r.template / r.cold).toFixed(2)}× | ${(r.template / r.bare).toFixed(2)}× |`,
  ),
  '',
  '| measurement | bare QEMU | lcow-uvm backend | ratio |',
  '|---|---:|---:|---:|',
  ...rows.map((r) =>
    r.what.includes('÷')
      ? `| ${r.what} | — | ${r.ours.toFixed(2)}× | — |`
      : `| ${r.what} | ${r.bare === undefined ? '—' : ms(r.bare)} | ${ms(r.ours)} | ${r.bare === undefined ? '—' : `${(r.ours / r.bare).toFixed(2)}×`} |`,
  ),
  '',
  ...(GCS_BINARY
    ? [
        `Guest agents in one VM (gcs mode, ${path.basename(GCS_BINARY)}; median of ${RUNS}):`,
        '',
        '| measurement | qemu-guest-agent | GCS bridge | ratio |',
        '|---|---:|---:|---:|',
        ...agentRows.map((r) => `| ${r.what} | ${ms(r.qga)} | ${ms(r.gcs)} | ${(r.gcs / r.qga).toFixed(2)}× |`),
      ]
    : ['GCS bridge vs qemu-guest-agent: skipped (set LCOW_GCS_BINARY=/path/to/a static hcsshim gcs to measure it)']),
];
process.stdout.write(lines.join('\n') + '\n');
