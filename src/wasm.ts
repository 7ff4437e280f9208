/**
 * WebAssembly modules of our own (src/tar/header-fast.wat,
 * src/digest/lane-hash.wat), run on one memory that never grows and called
 * through instances that are renewed: the two things V8 11 (Node 20) needs
 * for them to cost no more memory than their pages.
 *
 * - V8 calls WebAssembly from JavaScript through a generic wrapper and, after
 *   ~1,000 calls of one function, compiles a dedicated one with TurboFan:
 *   that alone touched 2.3 MiB more of the node binary (peak RSS) in
 *   `lcow convert`, which otherwise never runs TurboFan. A new instance of
 *   the same compiled module (~13 µs) starts the count again: every 512 calls.
 * - A memory that grows detaches its old ArrayBuffer, and every Buffer or
 *   typed array viewing it: the memory is made at its full size, up front
 *   (untouched pages cost no RSS), and imported by every instance.
 *
 * Without WebAssembly (node --jitless) or with LCOW_NO_WASM=1, wasmRuntime()
 * is undefined and callers use their JavaScript path.
 */

/** The part of the WebAssembly API used here (the project's TypeScript libs carry no DOM types). */
export interface WasmRuntime {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (descriptor: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
}

export const WASM_PAGE = 64 * 1024;

export function wasmRuntime(env: NodeJS.ProcessEnv = process.env): WasmRuntime | undefined {
  if (env.LCOW_NO_WASM === '1') return undefined;
  return (globalThis as { WebAssembly?: WasmRuntime }).WebAssembly;
}

const CALLS_PER_INSTANCE = 512;

/** A compiled module on a fixed memory, its exports from an instance renewed every 512 calls of `exports()`. */
export class RenewedInstance<Exports extends object> {
  /** The memory every instance imports (as host.memory): `pages` pages, for good. */
  readonly buffer: ArrayBuffer;
  private readonly module: object;
  private readonly imports: object;
  private current: Exports;
  private calls = 0;

  constructor(
    private readonly runtime: WasmRuntime,
    moduleBase64: string,
    pages: number,
  ) {
    const memory = new runtime.Memory({ initial: pages, maximum: pages });
    this.buffer = memory.buffer;
    this.module = new runtime.Module(Buffer.from(moduleBase64, 'base64'));
    this.imports = { host: { memory } };
    this.current = this.fresh();
  }

  /** The exports to make one call through. */
  exports(): Exports {
    if (++this.calls === CALLS_PER_INSTANCE) {
      this.calls = 0;
      this.current = this.fresh();
    }
    return this.current;
  }

  private fresh(): Exports {
    return new this.runtime.Instance(this.module, this.imports).exports as Exports;
  }
}
