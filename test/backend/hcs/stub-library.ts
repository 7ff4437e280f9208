/**
 * Builds stub/computecore-stub.c and stub/ws2_32-stub.c into one library in a
 * temp dir and exposes their control exports. The same file is passed to the
 * backend as computecore, kernel32, virtdisk and ws2_32 (dlopen returns one
 * instance, in the main thread and the hvsock worker alike, so the counters
 * and the call log are shared).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

export interface StubCall {
  fn: string;
  args: (string | null)[];
}

export type WinsockCounter = 'open' | 'opened' | 'startups' | 'cleanups' | 'wouldBlocks' | 'polls' | 'callsOnLoader' | 'threads';

/** The ws2_32 stand-in's controls. */
export interface WinsockStub {
  /** Where bind puts `<VmId>_<ServiceId>` unix sockets. */
  root: string;
  /** The path a guest connects to for (vmId, serviceId). */
  pathOf(vmId: string, serviceId: string): string;
  reset(): void;
  counter(name: WinsockCounter): number;
  /** The next n calls of fn return WSAEWOULDBLOCK without touching the socket. */
  wouldBlock(fn: 'accept' | 'recv' | 'send', n: number): void;
  /** The next call of fn fails with this Winsock error. */
  fail(fn: string, wsa: number): void;
  /** Cap every send at this many bytes (0: no cap). */
  maxSend(bytes: number): void;
  layout(what: string): number;
}

export interface StubLibrary {
  path: string;
  libraries: { computecore: string; kernel32: string; virtdisk: string; ws2_32: string };
  winsock: WinsockStub;
  reset(): void;
  clearFaults(): void;
  calls(): StubCall[];
  counter(name: 'allocs' | 'frees' | 'violations' | 'cancels' | 'opsCreated' | 'opsClosed' | 'foreignCallbacks' | 'systemsClosed'): number;
  setDelay(ms: number): void;
  hang(fn: string): void;
  fail(fn: string, hresult: number, atCompletion: boolean, resultDocument?: string): void;
  fireExit(): void;
  layout(what: string): number;
  cleanup(): void;
}

export function buildStubLibrary(): StubLibrary {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcs-stub-'));
  const sources = ['computecore-stub.c', 'ws2_32-stub.c'].map((f) => fileURLToPath(new URL(`./stub/${f}`, import.meta.url)));
  const so = path.join(dir, 'hcs-stub.so');
  execFileSync('cc', ['-shared', '-fPIC', '-pthread', '-O1', '-o', so, ...sources]);
  // A short folder of its own: a unix socket path is at most 107 bytes, and two GUIDs take 73.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hv-'));
  const lib = koffi.load(so);
  const log = lib.func('const char *stub_log(void)');
  const reset = lib.func('void stub_reset(void)');
  const clearFaults = lib.func('void stub_clear_faults(void)');
  const counter = lib.func('long stub_counter(const char *name)');
  const setDelay = lib.func('void stub_set_delay(int ms)');
  const hang = lib.func('void stub_hang(const char *fn)');
  const fail = lib.func('void stub_fail(const char *fn, int32_t hr, int async, const char *doc)');
  const fireExit = lib.func('void stub_fire_exit(void)');
  const layout = lib.func('long stub_layout(const char *what)');
  const ws = {
    setRoot: lib.func('void ws_stub_set_root(const char *dir)'),
    reset: lib.func('void ws_stub_reset(void)'),
    counter: lib.func('long ws_stub_counter(const char *name)'),
    wouldBlock: lib.func('void ws_stub_would_block(const char *fn, int n)'),
    fail: lib.func('void ws_stub_fail(const char *fn, int wsa)'),
    maxSend: lib.func('void ws_stub_max_send(int bytes)'),
    layout: lib.func('long ws_stub_layout(const char *what)'),
  };
  ws.setRoot(root);
  const winsock: WinsockStub = {
    root,
    pathOf: (vmId, serviceId) => path.join(root, `${vmId.toLowerCase()}_${serviceId.toLowerCase()}`),
    reset: () => ws.reset(),
    counter: (name) => Number(ws.counter(name)),
    wouldBlock: (fn, n) => ws.wouldBlock(fn, n),
    fail: (fn, wsa) => ws.fail(fn, wsa),
    maxSend: (bytes) => ws.maxSend(bytes),
    layout: (what) => Number(ws.layout(what)),
  };
  return {
    path: so,
    libraries: { computecore: so, kernel32: so, virtdisk: so, ws2_32: so },
    winsock,
    reset: () => {
      reset();
      ws.reset();
    },
    clearFaults: () => clearFaults(),
    calls: () =>
      (log() as string)
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StubCall),
    counter: (name) => Number(counter(name)),
    setDelay: (ms) => setDelay(ms),
    hang: (fn) => hang(fn),
    fail: (fn, hr, atCompletion, doc) => fail(fn, hr | 0, atCompletion ? 1 : 0, doc ?? ''),
    fireExit: () => fireExit(),
    layout: (what) => Number(layout(what)),
    cleanup: () => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
