/**
 * A guest process through HcsCreateProcess: argv as CommandArgs, std pipes
 * from HCS_PROCESS_INFORMATION, exit code from the ProcessExited event.
 *
 * The pipes are Windows anonymous-pipe HANDLEs: no overlapped I/O, so each
 * ReadFile/WriteFile runs with `.async` on a libuv pool thread (up to three
 * per running exec: stdin, stdout, stderr). stdout and stderr are drained
 * concurrently, never one after the other (a full stderr would stall the
 * guest otherwise, the opengcs bug).
 *
 * Whether HcsCreateProcess works on an LCOW UVM without an HCS guest
 * connection (hcsshim sends it over its own GCS bridge) is unverified.
 */
import type { Logger } from '../../log.js';
import { LcowError } from '../../errors.js';
import type { ExecOptions, ExecResult } from '../types.js';
import { buildProcessParameters } from './documents/index.js';
import { failed, hresultError } from './hresult.js';
import { callAsync } from './native/call-async.js';
import { eventRouter } from './native/callbacks.js';
import { HCS_EVENT_OPTION_NONE, HcsEventType, type Handle, type Ptr } from './native/computecore.js';
import type { Kernel32Api } from './native/kernel32.js';
import type { NativeHcs } from './native/load.js';
import { settlesWithin, type OperationRunner } from './operation.js';

export interface ExecDeps {
  native: NativeHcs;
  runner: OperationRunner;
  logger: Logger;
  system: Handle;
  vmId: string;
  timeoutMs: number;
  /** Aborted when the VM stops. */
  signal?: AbortSignal;
}

const CHUNK = 64 * 1024;
const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

/** Read a pipe to its end; keep at most `max` bytes, report whether any were dropped. */
interface Drained {
  data: Buffer;
  truncated: boolean;
}

async function drain(k32: Kernel32Api, handle: Ptr, max: number): Promise<Drained> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  if (!handle) return { data: Buffer.alloc(0), truncated };
  for (;;) {
    const buf = Buffer.alloc(CHUNK);
    const got: [number] = [0];
    const ok = await callAsync(k32.ReadFile, handle, buf, CHUNK, got, null);
    if (!ok || got[0] === 0) break; // ERROR_BROKEN_PIPE: the writer closed
    const take = Math.min(got[0], max - kept);
    if (take < got[0]) truncated = true;
    if (take > 0) chunks.push(buf.subarray(0, take));
    kept += take;
  }
  return { data: Buffer.concat(chunks), truncated };
}

async function feed(k32: Kernel32Api, handle: Ptr, input: Buffer | string | undefined): Promise<void> {
  if (!handle) return;
  try {
    let data = typeof input === 'string' ? Buffer.from(input) : (input ?? Buffer.alloc(0));
    while (data.length > 0) {
      const wrote: [number] = [0];
      const ok = await callAsync(k32.WriteFile, handle, data, data.length, wrote, null);
      if (!ok || wrote[0] === 0) break; // reader gone
      data = data.subarray(wrote[0]);
    }
  } finally {
    await callAsync(k32.CloseHandle, handle); // EOF for the guest
  }
}

function exitCodeOf(data: string | null): number {
  try {
    const doc = JSON.parse(data ?? '{}') as { ExitCode?: unknown };
    return typeof doc.ExitCode === 'number' ? doc.ExitCode : -1;
  } catch {
    return -1;
  }
}

export async function runExec(d: ExecDeps, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const { cc, k32 } = d.native;
  const params = JSON.stringify(buildProcessParameters(argv, { cwd: options.cwd, env: options.env }));
  const out: [Handle | null] = [null];
  let outcome;
  try {
    outcome = await d.runner.run('HcsCreateProcess', (op) => callAsync(cc.HcsCreateProcess, d.system, params, op, null, out), {
      timeoutMs: d.timeoutMs,
      context: { vmId: d.vmId, argv0: argv[0] },
      processInfo: true,
      signal: d.signal,
    });
  } catch (err) {
    if (out[0]) await callAsync(cc.HcsCloseProcess, out[0]);
    throw err;
  }
  const proc = out[0];
  const info = outcome.processInfo;
  if (!proc || !info) throw new LcowError('EHCS', 'HcsCreateProcess gave no process handle or information', { vmId: d.vmId });

  let exited!: (code: number) => void;
  const exitCode = new Promise<number>((resolve) => (exited = resolve));
  const eventId = eventRouter().add((e) => {
    if (e.type === HcsEventType.ProcessExited) {
      const code = exitCodeOf(e.data);
      setImmediate(() => exited(code));
    }
  });
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  let stdinOwned = true;
  try {
    const hr = await callAsync(cc.HcsSetProcessCallback, proc, HCS_EVENT_OPTION_NONE, eventId, eventRouter().pointer);
    if (failed(hr)) throw hresultError(hr, 'HcsSetProcessCallback', { vmId: d.vmId });
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        void d.runner
          .run('HcsTerminateProcess', (op) => callAsync(cc.HcsTerminateProcess, proc, op, null), { timeoutMs: d.timeoutMs, context: { vmId: d.vmId } })
          .catch((err: unknown) => d.logger.warn({ err }, 'terminating a timed-out process failed'));
      }, options.timeoutMs);
    }
    const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
    stdinOwned = false; // feed closes it
    // allSettled: no handle is closed below while a ReadFile/WriteFile on it is still running.
    const [fed, stdout, stderr] = await Promise.allSettled([
      feed(k32, info.StdInput, options.stdin),
      drain(k32, info.StdOutput, max),
      drain(k32, info.StdError, max),
    ]);
    for (const r of [fed, stdout, stderr]) if (r.status === 'rejected') throw r.reason;
    // Both pipes are at EOF, so the process is gone or going: its exit event is due.
    if (!(await settlesWithin(exitCode, d.timeoutMs))) {
      throw new LcowError('EHCS', `no ProcessExited event for ${argv[0]} after its output closed`, { vmId: d.vmId, argv0: argv[0] });
    }
    if (timedOut) throw new LcowError('ETIMEOUT', `${argv[0]} ran past ${options.timeoutMs} ms and was terminated`, { vmId: d.vmId, argv0: argv[0] });
    const o = (stdout as PromiseFulfilledResult<Drained>).value;
    const e = (stderr as PromiseFulfilledResult<Drained>).value;
    return { exitCode: await exitCode, stdout: o.data, stderr: e.data, truncated: o.truncated || e.truncated };
  } finally {
    clearTimeout(timer);
    eventRouter().delete(eventId);
    const handles = stdinOwned ? [info.StdInput, info.StdOutput, info.StdError] : [info.StdOutput, info.StdError];
    for (const h of handles) if (h) await callAsync(k32.CloseHandle, h);
    await callAsync(cc.HcsCloseProcess, proc);
  }
}
