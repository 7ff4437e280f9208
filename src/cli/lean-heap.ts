/**
 * V8 settings for a converter process: `lcow convert` streams hundreds of
 * MiB through a few reused buffers while its live state is only the file
 * tree's metadata, so V8's defaults (sized for servers) cost more memory
 * than the conversion itself. Measured on a 393 MiB, 8,014-entry /usr tar
 * (`npm run bench:convert`), whole-process peak RSS:
 *
 *   defaults                                   ~82 MiB
 *   --semi-space-growth-factor=1               ~66 MiB  (young generation stays at its initial size)
 *   … plus --no-turbofan                       ~56 MiB  (no TurboFan: its compile zones and code)
 *
 * Wall time moved from ~1.3 s to ~1.4 s: the work is copying and system
 * calls, which optimised JavaScript does not speed up. Both flags are read
 * by V8 when it decides to grow or to optimise, so setting them at run time,
 * before the conversion starts, takes effect.
 *
 * TurboFan was measured again after the reader's hot loops were rewritten
 * (issue 11; main-thread CPU of the conversion, medians of 5): with it,
 * 0.42 s instead of 0.60 s on that /usr tar and 0.27 s instead of 0.37 s on
 * a 125 MiB node_modules tar, but 63–67 MiB peak RSS (over the 64 MiB
 * budget) and more CPU in all (its compiler threads). Raising its budget
 * (--interrupt-budget) or keeping inlining off left it at 60–65 MiB for a
 * smaller gain. Measured once more (issue 11, round 2): TurboFan only for
 * the eleven hottest functions (--turbo-filter on a common name prefix) cut
 * the edge layer's CPU by 10% at 63.6 MiB and gave nothing on the
 * node_modules tar at +7 MiB — any TurboFan use at all costs ~4 MiB (one
 * function alone: 61 MiB on the edge layer); --maglev gave nothing. So it
 * stays off, and the hot paths are written for V8's baseline tier instead
 * (tar/header.ts, ext4/format/inode.ts). Round 3: TurboFan on cost the edge
 * layer +26% CPU (1.11 vs 0.88 s) at 68 MiB. GC threads: --single-threaded-gc
 * set here, at run time, aborts V8 (a fatal check in cppgc's marker; it only
 * looked 20% faster because runs died), as do --no-parallel-marking and its
 * companions; --no-concurrent-marking, --no-parallel-scavenge,
 * --no-concurrent-sweeping and --min-semi-space-size=4 changed nothing.
 *
 * Process-wide, so only the CLI calls this — never the library (an engine
 * embedding lcow-uvm keeps its own V8 settings; the driver's conversion
 * worker caps its own young generation instead, see driver/apply-diff.ts).
 * LCOW_V8_DEFAULTS=1 leaves V8 alone (to compare, or if a future V8 drops a flag).
 */
import { createRequire } from 'node:module';

type SetFlags = (flags: string) => void;

/**
 * V8's setFlagsFromString without loading `node:v8`, which pulls in Node's
 * heap-snapshot and stream code (~30 internal modules compiled at start:
 * 4–5 ms of every `lcow convert` on this project's 2-vCPU machine, issue 11,
 * round 8). `process.binding('v8')` is the binding whose setFlagsFromString
 * `node:v8`'s own calls, the same function (test/cli/lean-heap.test.ts
 * compares V8's flag hash after each); Node lists that access as deprecated
 * (DEP0111) and warns once, so the warning is held off for this one call. A
 * Node without it, or whose binding lacks the function, gets `node:v8`.
 */
export function v8FlagSetter(): { setFlags: SetFlags; via: 'binding' | 'node:v8' } {
  const quiet = process.noDeprecation;
  try {
    process.noDeprecation = true;
    const binding = (process as unknown as { binding?: (name: string) => { setFlagsFromString?: unknown } }).binding?.('v8');
    const set = binding?.setFlagsFromString;
    if (typeof set === 'function') return { setFlags: (flags) => void set.call(binding, flags), via: 'binding' };
  } catch {
    // no such binding in this Node: the module below
  } finally {
    process.noDeprecation = quiet;
  }
  const v8 = createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
  return { setFlags: (flags) => v8.setFlagsFromString(flags), via: 'node:v8' };
}

export function preferSmallHeap(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.LCOW_V8_DEFAULTS === '1') return false;
  const { setFlags: setFlagsFromString } = v8FlagSetter();
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--no-turbofan');
  // The same for WebAssembly (the tar header decoder, tar/header-fast.ts): Liftoff's
  // code only. V8 otherwise recompiles a hot function with TurboFan, and that first
  // TurboFan use touches ~2.5 MiB more of the node binary (measured: 100,000 header
  // decodes, RssFile +3.0 MiB with tier-up, +0.4 MiB without).
  setFlagsFromString('--liftoff-only');
  return true;
}
