/**
 * A process in the utility VM through the bridge, as hcsshim runs one:
 * ExecuteProcess, then at once one WaitForProcess without a time limit
 * (only the first completed wait gets the exit code; the guest forgets the
 * process after it).
 *
 * - The environment is sent whole, PATH included: the GCS does not inherit
 *   its own, and resolves argv[0] with its own PATH.
 * - A time limit kills the process with a second process, `kill -9 <pid>`:
 *   SignalProcess only reaches processes in containers (the GCS answers
 *   VMCOMPUTE_E_SYSTEM_NOT_FOUND for one in the VM).
 * - Output needs a StdioTransport. Without one the process runs with no
 *   pipes: the exit code comes back, stdout and stderr are empty, and stdin
 *   cannot be given (EUNSUPPORTED).
 * - A process killed by a signal exits -1 (the GCS reports 0xFFFFFFFF and
 *   not which signal).
 */
import type { Duplex } from 'node:stream';
import { LcowError, asError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ExecOptions, ExecResult } from '../types.js';
import type { GcsBridge } from './bridge.js';
import { INFINITE_WAIT_MS, NULL_CONTAINER_ID, type ExecuteProcessResponse, type GcsProcessParameters, type WaitForProcessResponse } from './protocol.js';
import type { StdioListener, StdioTransport } from './stdio.js';

/** PATH for processes that are given no environment (the GCS passes on none of its own). */
export const DEFAULT_PROCESS_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** After the exit, how long output may still arrive before its streams are cut. */
const OUTPUT_DRAIN_MS = 5_000;

export interface ProcessDeps {
  bridge: GcsBridge;
  stdio: StdioTransport | undefined;
  /** The next stdio port of this connection (never reused). */
  nextPort(): number;
  /** Time limit of ExecuteProcess and of the kill on a time limit. */
  requestTimeoutMs: number;
  log: Logger;
}

type StreamName = 'StdIn' | 'StdOut' | 'StdErr';

export function processParameters(argv: readonly string[], options: Pick<ExecOptions, 'cwd' | 'env'>, pipes: ReadonlySet<StreamName>): GcsProcessParameters {
  if (argv.length === 0 || argv[0]!.length === 0) throw new LcowError('EINVAL', 'exec needs a non-empty argv[0]', {});
  if (argv.some((a) => a.includes('\0'))) throw new LcowError('EINVAL', 'argv entries must not contain NUL', {});
  const env = { PATH: DEFAULT_PROCESS_PATH, ...options.env };
  for (const k of Object.keys(env)) {
    if (!k || k.includes('=') || k.includes('\0')) throw new LcowError('EINVAL', `bad environment variable name '${k}'`, { name: k });
  }
  return {
    CommandArgs: [...argv],
    ...(options.cwd ? { WorkingDirectory: options.cwd } : {}),
    Environment: env,
    EmulateConsole: false,
    CreateStdInPipe: pipes.has('StdIn'),
    CreateStdOutPipe: pipes.has('StdOut'),
    CreateStdErrPipe: pipes.has('StdErr'),
    CreateInUtilityVM: true,
  };
}

/** The GCS's u32 exit code as a process exit status (0xFFFFFFFF, a signal death, is -1). */
export function exitCodeOf(u32: number): number {
  return u32 | 0;
}

export async function runProcess(deps: ProcessDeps, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  if (options.stdin !== undefined && !deps.stdio) {
    throw new LcowError('EUNSUPPORTED', 'stdin for a GCS process needs a stdio transport (vsock), which this VM has not', { argv: [...argv] });
  }
  const pipes = new Set<StreamName>(deps.stdio ? ['StdOut', 'StdErr'] : []);
  if (options.stdin !== undefined) pipes.add('StdIn');
  const params = processParameters(argv, options, pipes);
  const relay = await listenAll(deps, pipes);
  // Accepting (and feeding stdin) starts now: the guest dials while it handles the request.
  const io = relay.run(options);
  let pid: number;
  try {
    const started = await deps.bridge.rpc<ExecuteProcessResponse>(
      'ExecuteProcess',
      { ContainerId: NULL_CONTAINER_ID, Settings: { ProcessParameters: JSON.stringify(params), VsockStdioRelaySettings: relay.ports } },
      { timeoutMs: deps.requestTimeoutMs, context: { argv: [...argv] } },
    );
    pid = started.ProcessId;
  } catch (err) {
    io.cut();
    relay.close();
    throw err;
  }
  const exit = deps.bridge.rpc<WaitForProcessResponse>(
    'WaitForProcess',
    { ContainerId: NULL_CONTAINER_ID, ProcessId: pid, TimeoutInMs: INFINITE_WAIT_MS },
    { context: { pid, argv: [...argv] } },
  );
  exit.catch(() => undefined);

  let timer: NodeJS.Timeout | undefined;
  const timedOut =
    options.timeoutMs === undefined
      ? undefined
      : new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
        });
  try {
    const first = await (timedOut ? Promise.race([exit, timedOut]) : exit);
    if (first === 'timeout') {
      await killProcess(deps, pid);
      await Promise.race([exit.catch(() => undefined), delay(deps.requestTimeoutMs)]);
      io.cut();
      throw new LcowError('ETIMEOUT', `guest process ${argv[0]} (pid ${pid}) did not finish within ${options.timeoutMs} ms; killed`, {
        argv: [...argv],
        pid,
        timeoutMs: options.timeoutMs,
      });
    }
    const output = await io.collect();
    return { exitCode: exitCodeOf(first.ExitCode), ...output };
  } catch (err) {
    io.cut();
    throw err;
  } finally {
    clearTimeout(timer);
    relay.close();
  }
}

/** kill -9 as a second process in the VM; its own failure is logged, not thrown (the caller reports the time limit). */
async function killProcess(deps: ProcessDeps, pid: number): Promise<void> {
  try {
    const killer = await runProcess({ ...deps, stdio: undefined }, ['kill', '-9', String(pid)], { timeoutMs: deps.requestTimeoutMs });
    if (killer.exitCode !== 0) deps.log.warn({ pid, exitCode: killer.exitCode }, 'kill -9 of a timed-out process failed (it may have exited)');
  } catch (err) {
    deps.log.warn({ err: asError(err), pid }, 'could not kill a timed-out process');
  }
}

interface Relay {
  /** The ports to name in the request (empty without a transport). */
  ports: Partial<Record<StreamName, number>>;
  /** Accept the guest's connections, feed stdin, gather stdout and stderr. */
  run(options: ExecOptions): RunningIo;
  close(): void;
}

interface RunningIo {
  collect(): Promise<Pick<ExecResult, 'stdout' | 'stderr' | 'truncated'>>;
  cut(): void;
}

async function listenAll(deps: ProcessDeps, pipes: ReadonlySet<StreamName>): Promise<Relay> {
  const listeners = new Map<StreamName, StdioListener>();
  const ports: Partial<Record<StreamName, number>> = {};
  const close = (): void => {
    for (const l of listeners.values()) l.close();
  };
  try {
    // stdin, stdout, stderr: the order the guest dials them in and hcsshim numbers them in
    for (const name of ['StdIn', 'StdOut', 'StdErr'] as const) {
      if (!pipes.has(name) || !deps.stdio) continue;
      const port = deps.nextPort();
      listeners.set(name, await deps.stdio.listen(port));
      ports[name] = port;
    }
  } catch (err) {
    close();
    throw new LcowError('EIO', `cannot listen for a guest process's stdio: ${asError(err).message}`, {}, { cause: err });
  }
  return { ports, run: (options) => startIo(listeners, options), close };
}

function startIo(listeners: Map<StreamName, StdioListener>, options: ExecOptions): RunningIo {
  const sockets: Duplex[] = [];
  const accept = (name: StreamName): Promise<Duplex> | undefined => {
    const l = listeners.get(name);
    if (!l) return undefined;
    const p = l.accept().then((s) => (sockets.push(s), s));
    p.catch(() => undefined);
    return p;
  };
  const stdin = accept('StdIn');
  const stdout = accept('StdOut');
  const stderr = accept('StdErr');
  if (stdin && options.stdin !== undefined) {
    const data = typeof options.stdin === 'string' ? Buffer.from(options.stdin, 'utf8') : options.stdin;
    // end() after the data is the host's shutdown(SD_SEND): the process reads EOF.
    void stdin.then((s) => s.end(data)).catch(() => undefined);
  }
  const cap = options.maxOutputBytes;
  const out = stdout ? gather(stdout, cap) : Promise.resolve({ data: Buffer.alloc(0), cut: false });
  const err = stderr ? gather(stderr, cap) : Promise.resolve({ data: Buffer.alloc(0), cut: false });
  return {
    async collect() {
      const drained = await Promise.race([Promise.all([out, err]), delay(OUTPUT_DRAIN_MS).then(() => undefined)]);
      if (!drained) {
        for (const s of sockets) s.destroy();
        const [o, e] = await Promise.all([out, err]);
        return { stdout: o.data, stderr: e.data, truncated: true };
      }
      const [o, e] = drained;
      return { stdout: o.data, stderr: e.data, truncated: o.cut || e.cut };
    },
    cut() {
      for (const s of sockets) s.destroy();
    },
  };
}

/** Read a stream to its end (or until destroyed), keeping at most `cap` bytes. */
async function gather(socket: Promise<Duplex>, cap: number | undefined): Promise<{ data: Buffer; cut: boolean }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let cut = false;
  try {
    const s = await socket;
    await new Promise<void>((resolve) => {
      s.on('data', (b: Buffer) => {
        const room = cap === undefined ? b.length : Math.max(0, cap - kept);
        if (room < b.length) cut = true;
        if (room > 0) {
          chunks.push(room < b.length ? b.subarray(0, room) : b);
          kept += Math.min(room, b.length);
        }
      });
      s.once('end', resolve);
      s.once('close', resolve);
      s.once('error', () => resolve());
    });
  } catch {
    // never connected: nothing to gather
  }
  return { data: Buffer.concat(chunks), cut };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
