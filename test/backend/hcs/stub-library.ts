/**
 * Builds stub/computecore-stub.c into a temp dir and exposes its control
 * exports. The same file is passed to the backend as computecore, kernel32
 * and virtdisk (dlopen returns one instance, so the counters are shared).
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

export interface StubLibrary {
  path: string;
  libraries: { computecore: string; kernel32: string; virtdisk: string };
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
  const src = fileURLToPath(new URL('./stub/computecore-stub.c', import.meta.url));
  const so = path.join(dir, 'computecore-stub.so');
  execFileSync('cc', ['-shared', '-fPIC', '-pthread', '-O1', '-o', so, src]);
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
  return {
    path: so,
    libraries: { computecore: so, kernel32: so, virtdisk: so },
    reset: () => reset(),
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
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
