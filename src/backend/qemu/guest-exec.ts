/**
 * Run a process in the guest through qemu-ga's guest-exec: argv array in,
 * stdin as base64 `input-data`, stdout/stderr captured separately, then
 * guest-exec-status polled with a growing interval until it exits.
 *
 * qemu-ga has no working-directory option and no kill request, so both are
 * done with fixed busybox programs whose variable parts travel as separate
 * argv entries — never spliced into a shell string.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LcowError } from '../../errors.js';
import type { ExecOptions, ExecResult } from '../types.js';
import type { GuestAgentClient } from './guest-agent-client.js';

export const DEFAULT_GUEST_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** `cd` into $1, then exec the rest of the arguments unchanged. */
const CWD_WRAPPER = 'cd -- "$1" || exit 127; shift; exec "$@"';

interface ExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: boolean;
  'err-truncated'?: boolean;
}

export interface GuestExecDefaults {
  /** Time limit per agent request (not per process), ms. */
  requestTimeoutMs: number;
  /** Default process time limit when options.timeoutMs is absent (undefined: none). */
  processTimeoutMs?: number;
}

/** The argv actually handed to guest-exec (cwd wrapped, see CWD_WRAPPER). */
export function guestArgv(argv: readonly string[], cwd?: string): string[] {
  if (argv.length === 0) throw new LcowError('EINVAL', 'exec needs a non-empty argv', {});
  return cwd === undefined ? [...argv] : ['/bin/sh', '-c', CWD_WRAPPER, 'sh', cwd, ...argv];
}

export function guestEnv(env: Record<string, string> | undefined): string[] | undefined {
  if (!env) return undefined;
  const merged = { PATH: DEFAULT_GUEST_PATH, ...env };
  for (const k of Object.keys(merged)) {
    if (!k || k.includes('=') || k.includes('\0')) throw new LcowError('EINVAL', `bad environment variable name '${k}'`, { name: k });
  }
  return Object.entries(merged).map(([k, v]) => `${k}=${v}`);
}

function capBuffer(b64: string | undefined, max: number | undefined): { data: Buffer; cut: boolean } {
  const data = b64 ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
  if (max !== undefined && data.length > max) return { data: data.subarray(0, max), cut: true };
  return { data, cut: false };
}

export async function guestExec(agent: GuestAgentClient, argv: readonly string[], options: ExecOptions, defaults: GuestExecDefaults): Promise<ExecResult> {
  const full = guestArgv(argv, options.cwd);
  const args: Record<string, unknown> = { path: full[0], arg: full.slice(1), 'capture-output': true };
  const env = guestEnv(options.env);
  if (env) args.env = env;
  if (options.stdin !== undefined) {
    args['input-data'] = (typeof options.stdin === 'string' ? Buffer.from(options.stdin, 'utf8') : options.stdin).toString('base64');
  }
  const rt = defaults.requestTimeoutMs;
  const { pid } = await agent.request<{ pid: number }>('guest-exec', args, rt);

  const limit = options.timeoutMs ?? defaults.processTimeoutMs;
  const deadline = limit === undefined ? Infinity : Date.now() + limit;
  let delay = 2;
  for (;;) {
    const st = await agent.request<ExecStatus>('guest-exec-status', { pid }, rt);
    if (st.exited) {
      const out = capBuffer(st['out-data'], options.maxOutputBytes);
      const err = capBuffer(st['err-data'], options.maxOutputBytes);
      const result: ExecResult = {
        exitCode: st.exitcode ?? (st.signal !== undefined ? 128 + st.signal : -1),
        stdout: out.data,
        stderr: err.data,
        truncated: out.cut || err.cut || st['out-truncated'] === true || st['err-truncated'] === true,
      };
      if (st.signal !== undefined) result.signal = st.signal;
      return result;
    }
    if (Date.now() >= deadline) {
      await killGuestProcess(agent, pid, rt);
      throw new LcowError('ETIMEOUT', `guest process ${argv[0]} (pid ${pid}) did not finish within ${limit} ms; killed`, {
        argv: [...argv],
        pid,
        timeoutMs: limit,
      });
    }
    await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
    // gentle growth: a short command is caught soon after it ends, a long
    // one is not polled so often that the agent steals the guest's CPU
    delay = Math.min(delay * 1.5, 25);
  }
}

/** SIGKILL a guest process, then collect its (and kill's own) exec status so qemu-ga frees them. */
async function killGuestProcess(agent: GuestAgentClient, pid: number, rt: number): Promise<void> {
  const killer = await agent.request<{ pid: number }>('guest-exec', { path: '/bin/kill', arg: ['-9', String(pid)], 'capture-output': true }, rt);
  for (const p of [killer.pid, pid]) {
    for (let i = 0; i < 200; i++) {
      const st = await agent.request<ExecStatus>('guest-exec-status', { pid: p }, rt);
      if (st.exited) break;
      await sleep(10);
    }
  }
}
