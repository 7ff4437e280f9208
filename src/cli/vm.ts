/**
 * `lcow vm run [--layer FILE]… [--scratch FILE] [--backend auto|qemu|hcs]
 *              [--memory MiB] [--cpus N] [--timeout S] [--stdin] -- argv…`
 *
 * The VM lifecycle by hand: boot a utility VM, and when layers are given
 * (top-most first) union-mount them (plus a read-write scratch) and run argv
 * as a container on that rootfs — runc, in its own namespaces, without the
 * capabilities to mount or open the VM's devices, exactly as the driver runs
 * one (never a chroot, which would leave it root in the VM); without layers,
 * run argv in the UVM itself.
 * Prints the process's stdout/stderr, exits with its exit code, and tears
 * everything down — union, scratch, layers, VM — whatever happened.
 */
import { randomBytes } from 'node:crypto';
import { LcowError } from '../errors.js';
import { selectBackend, type BackendChoice } from '../backend/index.js';
import { createUtilityVM, mountContainerLayers, type ContainerLayers, type UtilityVM } from '../uvm/index.js';
import { CONTAINER_BASE_DIR, makeContainerBase, runContainer } from '../driver/index.js';

const USAGE = 'usage: lcow vm run [--layer FILE]… [--scratch FILE] [--backend auto|qemu|hcs] [--memory MiB] [--cpus N] [--timeout S] [--stdin] -- argv…';

interface VmRunArgs {
  layers: string[];
  scratch?: string;
  backend: BackendChoice;
  memoryMiB?: number;
  cpus?: number;
  timeoutMs?: number;
  stdin: boolean;
  argv: string[];
}

function positiveInt(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new LcowError('EINVAL', `${name} needs a positive integer, got '${value}'\n${USAGE}`, { option: name, value });
  return n;
}

export function parseVmRunArgs(args: string[]): VmRunArgs {
  const out: VmRunArgs = { layers: [], backend: 'auto', stdin: false, argv: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new LcowError('EINVAL', `${a} needs a value\n${USAGE}`, { option: a });
      return v;
    };
    if (a === '--') {
      out.argv = args.slice(i + 1);
      break;
    } else if (a === '--layer') out.layers.push(value());
    else if (a === '--scratch') out.scratch = value();
    else if (a === '--backend') {
      const b = value();
      if (b !== 'auto' && b !== 'qemu' && b !== 'hcs')
        throw new LcowError('EINVAL', `--backend must be auto, qemu or hcs, got '${b}'`, { option: a, value: b });
      out.backend = b;
    } else if (a === '--memory') out.memoryMiB = positiveInt(a, value());
    else if (a === '--cpus') out.cpus = positiveInt(a, value());
    else if (a === '--timeout') out.timeoutMs = positiveInt(a, value()) * 1000;
    else if (a === '--stdin') out.stdin = true;
    else throw new LcowError('EINVAL', `unknown argument '${a}'\n${USAGE}`, { argument: a });
  }
  if (out.argv.length === 0) throw new LcowError('EINVAL', `nothing to run: give argv after --\n${USAGE}`, {});
  if (out.scratch && out.layers.length === 0) throw new LcowError('EINVAL', `--scratch needs at least one --layer\n${USAGE}`, {});
  return out;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The container's time limit when --timeout gives none (the guest agent's own default otherwise). */
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

/** The layers (and scratch) unioned, over the mount points runc needs (proc, sys, dev). */
async function mountLayers(uvm: UtilityVM, layers: string[], scratch: string | undefined): Promise<ContainerLayers> {
  await makeContainerBase((argv, o) => uvm.exec(argv, o), DEFAULT_TIMEOUT_MS);
  return mountContainerLayers(uvm, layers, scratch, '/run/c/cli', { baseDirs: [CONTAINER_BASE_DIR] });
}

export async function run(args: string[]): Promise<number> {
  if (args[0] !== 'run') throw new LcowError('EINVAL', USAGE, { args });
  const a = parseVmRunArgs(args.slice(1));
  const backend = await selectBackend(a.backend);
  const uvm = await createUtilityVM({ id: `lcow-vm-${randomBytes(4).toString('hex')}`, backend, memoryMiB: a.memoryMiB, cpus: a.cpus });
  try {
    await uvm.start();
    const ctr = a.layers.length > 0 ? await mountLayers(uvm, a.layers, a.scratch) : undefined;
    try {
      const options = { timeoutMs: a.timeoutMs, ...(a.stdin ? { stdin: await readStdin() } : {}) };
      const r = ctr
        ? await runContainer(
            (argv, o) => uvm.exec(argv, o),
            { rootfs: ctr.rootfs, readonlyRootfs: a.scratch === undefined, id: 'cli', hostname: 'lcow', args: a.argv, timeoutMs: DEFAULT_TIMEOUT_MS },
            options,
          )
        : await uvm.exec(a.argv, options);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.signal !== undefined ? 128 + r.signal : r.exitCode;
    } finally {
      await ctr?.release();
    }
  } finally {
    await uvm.terminate();
  }
}
