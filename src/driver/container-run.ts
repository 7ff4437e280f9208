/**
 * A container process in a service VM, started the way a real LCOW guest
 * starts one: runc, with an OCI config generated per run (oci-config.ts) and
 * the union as its rootfs — never a chroot, which left the process root in
 * the VM, able to mount devtmpfs and rewrite any disk attached there.
 *
 * Two guest processes per run, both constant scripts whose variable parts are
 * positional parameters:
 * 1. write the bundle (the config travels as one argv element: no shell ever
 *    parses it) and `exec runc run`, so the guest agent's time limit kills
 *    runc itself; stdin, stdout and stderr pass through runc to the container.
 * 2. after it, remove the bundle; after a time limit, first `runc delete
 *    --force`, which kills whatever the container still runs (runc's own
 *    parent death does not). When runc failed, its log (JSON lines, separate
 *    from the container's stderr) tells a container that never started from
 *    one that exited non-zero.
 *
 * Exit status: the container's; a container ended by a signal reports
 * 128 + the signal number, as runc (and Docker) report it — runc's exit is
 * all the guest agent sees, so `signal` is never set here.
 */
import { posix } from 'node:path';
import { LcowError, isLcowError } from '../errors.js';
import type { ExecOptions, ExecResult } from '../backend/index.js';
import type { GuestExec } from './guest-fs.js';
import { MOUNT_POINTS, ociConfig, type ContainerProcess } from './oci-config.js';

/** Guest directory whose empty proc/, sys/ and dev/ sit under every union (see MOUNT_POINTS). */
export const CONTAINER_BASE_DIR = '/run/lcow/base';
/** Guest directory of the runc bundles (config + runc's log), one per run, removed after it. */
const BUNDLES_DIR = '/run/lcow/bundles';

/** One argv element must stay under the kernel's MAX_ARG_STRLEN (128 KiB). */
const MAX_CONFIG_BYTES = 120 * 1024;

/** $1 bundle, $2 container id, $3 config.json; then runc replaces the shell. */
const RUN_SCRIPT = 'mkdir -p -m 0700 "$1" && printf %s "$3" > "$1/config.json" && exec runc --log "$1/runc.log" --log-format json run --bundle "$1" "$2"';
/**
 * $1 bundle, $2 container id or '' (nothing to kill): print runc's log (or an
 * entry of the same shape when the bundle was never written), remove the bundle.
 */
const FINISH_SCRIPT = [
  '[ -n "$2" ] && runc delete --force "$2" >/dev/null 2>&1',
  '[ -f "$1/config.json" ] || echo \'{"level":"error","msg":"the runc bundle could not be written"}\'',
  'cat "$1/runc.log" 2>/dev/null',
  'rm -rf "$1"',
  'exit 0',
].join('\n');

/** The argv of the guest process that runs one container. */
function runArgv(bundle: string, id: string, config: string): string[] {
  return ['sh', '-c', RUN_SCRIPT, 'run', bundle, id, config];
}

/** Make the mount-point base directory (EEXEC when the guest cannot); idempotent, so once per VM is enough. */
export async function makeContainerBase(exec: GuestExec, timeoutMs: number): Promise<void> {
  const r = await exec(['mkdir', '-p', ...MOUNT_POINTS.map((d) => posix.join(CONTAINER_BASE_DIR, d))], { timeoutMs });
  if (r.exitCode !== 0) {
    const stderr = r.stderr.toString('utf8').trim();
    throw new LcowError('EEXEC', `cannot make ${CONTAINER_BASE_DIR} in the VM: ${stderr}`, { exitCode: r.exitCode, stderr });
  }
}

/** runc's own error, if its log (JSON lines) holds one. */
export function runtimeError(log: string): string | undefined {
  for (const line of log.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if ((entry.level === 'error' || entry.level === 'fatal') && typeof entry.msg === 'string') return entry.msg;
    } catch {
      // not a log line (runc writes only JSON here; a torn last line is skipped)
    }
  }
  return undefined;
}

export interface ContainerRun extends Omit<ContainerProcess, 'cwd' | 'env'> {
  /** Time limit when the options give none. */
  timeoutMs: number;
}

/**
 * Run one container process to its end. Resolves with any exit status; a
 * process that could not be started at all (no such program, a runc
 * failure) is EGUEST; a time limit is ETIMEOUT after the container is gone.
 */
export async function runContainer(exec: GuestExec, run: ContainerRun, options: ExecOptions = {}): Promise<ExecResult> {
  const config = JSON.stringify(ociConfig({ ...run, cwd: options.cwd, env: options.env }));
  if (Buffer.byteLength(config) > MAX_CONFIG_BYTES) {
    throw new LcowError('ETOOBIG', `the container's argv and environment take more than ${MAX_CONFIG_BYTES} bytes`, { id: run.id });
  }
  const bundle = posix.join(BUNDLES_DIR, run.id);
  const timeoutMs = options.timeoutMs ?? run.timeoutMs;
  const finish = async (kill: boolean) =>
    (await exec(['sh', '-c', FINISH_SCRIPT, 'finish', bundle, kill ? run.id : ''], { timeoutMs: run.timeoutMs })).stdout.toString('utf8');

  let result: ExecResult;
  try {
    result = await exec(runArgv(bundle, run.id, config), {
      ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
      ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
      timeoutMs,
    });
  } catch (err) {
    // A stopped VM took the container with it; after a time limit the container may still run.
    if (isLcowError(err, 'ETIMEOUT')) await finish(true);
    throw err;
  }
  const log = await finish(false);
  const failed = result.exitCode !== 0 ? runtimeError(log) : undefined;
  if (failed !== undefined) {
    throw new LcowError('EGUEST', `container process ${run.args[0]} did not start: ${failed}`, {
      argv: [...run.args],
      exitCode: result.exitCode,
      runtimeError: failed,
    });
  }
  return result;
}
