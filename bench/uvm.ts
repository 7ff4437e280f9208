/**
 * `npm run bench:uvm`: the QEMU backend against bare QEMU, measured in the
 * same run with the same kernel and initrd. "Bare" is qemu-system-x86_64
 * spawned by hand with a minimal argv, and a minimal QMP / agent exchange
 * written here — the floor the backend's own work sits on. Runs alternate
 * bare/backend so load from other processes hits both alike; each figure
 * is the median of RUNS runs. Prints a table with ratios (backend / bare).
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

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LAYERS = 127;
const image = await ensureGuestImage();
// The qemu-guest-agent backend, whatever LCOW_GCS_BINARY says: its figures stay comparable run to run.
const backend = new QemuBackend({ guest: 'qemu-guest-agent' });
const GCS_BINARY = process.env.LCOW_GCS_BINARY || undefined;
// Bare QEMU runs with the accelerator ours chose (auto: KVM only where a probe VM boots with it).
const accel = await backend.accel({ kernelPath: image.kernelPath, initrdPath: image.initrdPath });
console.log(`accelerator: ${accel}`);
const work = await mkdtemp(path.join(os.tmpdir(), 'lcow-bench-'));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
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

async function bareBoot(vpmemSlots: number): Promise<Bare> {
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
    '-device',
    'virtio-scsi-pci,id=scsi0',
  ];
  for (let s = 0; s < vpmemSlots; s++) args.push('-device', `pcie-root-port,id=rp${s},chassis=${s + 1}`);
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
async function backendBoot(over: Partial<VmSpec> = {}): Promise<QemuVm> {
  const vm = await backend.createVm({
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

{
  // cold start to agent-ready
  const bare: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let b: Bare | undefined;
    bare.push(
      await time(async () => {
        b = await bareBoot(0);
      }),
    );
    await bareStop(b as Bare);
    let vm: QemuVm | undefined;
    ours.push(
      await time(async () => {
        vm = await backendBoot();
      }),
    );
    await vm?.terminate();
  }
  rows.push({ what: 'cold start → agent ready', bare: median(bare), ours: median(ours) });
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
  // 127 layers: attach over SCSI (2 controllers), mount each, one overlay; then tear down
  const layers: string[] = [];
  for (let i = 0; i < LAYERS; i++) layers.push(await ext4(`l${i}`, { [`file${i}`]: String(i) }, 1));
  const vm = await backendBoot({ scsiControllers: 2 });
  const attach: number[] = [];
  const teardown: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const loc = (i: number): { controller: number; lun: number } => ({ controller: i % 2, lun: Math.floor(i / 2) });
    attach.push(
      await time(async () => {
        for (let i = 0; i < LAYERS; i++) {
          const { controller, lun } = loc(i);
          await vm.addScsiDisk(controller, lun, { hostPath: layers[i]!, readOnly: true });
          await vm.mountScsi({ controller, lun, guestPath: `/run/m/${i}`, readOnly: true });
        }
        await vm.combineLayers({ lowerDirs: layers.map((_, i) => `/run/m/${LAYERS - 1 - i}`), target: '/run/c/rootfs' });
      }),
    );
    const seen = await vm.exec(['/bin/sh', '-c', 'ls /run/c/rootfs | wc -l']);
    if (seen.stdout.toString().trim() !== String(LAYERS + 1 /* lost+found */)) throw new Error(`overlay shows ${seen.stdout.toString().trim()} entries`);
    teardown.push(
      await time(async () => {
        await vm.removeCombinedLayers('/run/c/rootfs');
        for (let i = 0; i < LAYERS; i++) {
          const { controller, lun } = loc(i);
          await vm.unmount(`/run/m/${i}`);
          await vm.unplugScsi(controller, lun);
          await vm.removeScsiDisk(controller, lun);
        }
      }),
    );
  }
  rows.push({ what: `${LAYERS} layers: SCSI attach + mount + overlay`, ours: median(attach) });
  rows.push({ what: `${LAYERS} layers: teardown`, ours: median(teardown) });
  await vm.terminate();
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
  '| measurement | bare QEMU | lcow-uvm backend | ratio |',
  '|---|---:|---:|---:|',
  ...rows.map(
    (r) => `| ${r.what} | ${r.bare === undefined ? '—' : ms(r.bare)} | ${ms(r.ours)} | ${r.bare === undefined ? '—' : `${(r.ours / r.bare).toFixed(2)}×`} |`,
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
