/**
 * The common tar header decoded in WebAssembly (header-fast.wat), in one call.
 *
 * Why: `lcow convert` runs its JavaScript in V8's baseline tier (TurboFan
 * costs the converter's memory budget, see cli/lean-heap.ts), where the
 * checksum and the octal fields of a header took 5.3 µs of loop steps per
 * member — ~35 ms of a 6,000-file node_modules layer, the reader's largest
 * cost. WebAssembly is compiled to machine code at once (Liftoff), whatever
 * the JavaScript tiers: the same work, copy and call included, is ~0.15 µs.
 *
 * Only the common case is decoded here: ustar, old-GNU or v7 headers whose
 * checksum is the unsigned sum and whose numeric fields are octal. For
 * anything else (the historic signed sum, base-256 numbers, an old-GNU sparse
 * map, any malformed field) this returns undefined and header.ts's
 * decodeHeader decodes the block (read-entries.ts calls one, then the other), so every error and every rare form keeps one implementation. A test
 * holds the two to the same result on every header this accepts.
 */
import type { RawHeader, TarFormat } from './header.js';
import { RenewedInstance, wasmRuntime } from '../wasm.js';
import { HEADER_FAST_WASM } from './header-fast-wasm.js';

/** Where the module leaves its results (see the .wat): nine f64 fields, then four i32. */
const NUMBERS_AT = 512;
const NUMBER_COUNT = 9;
const INTS_AT = NUMBERS_AT + NUMBER_COUNT * 8;
const FORMATS: readonly TarFormat[] = ['v7', 'ustar', 'gnu'];
const SLASH = Buffer.from('/');
const EMPTY = Buffer.alloc(0);

interface Decoder {
  wasm: RenewedInstance<{ decode: () => number }>;
  block: Uint8Array;
  numbers: Float64Array;
  ints: Int32Array;
}

/** Made on first use; null when this runtime has no WebAssembly (node --jitless, LCOW_NO_WASM=1). */
let decoder: Decoder | null | undefined;

function makeDecoder(): Decoder | null {
  const runtime = wasmRuntime();
  if (runtime === undefined) return null;
  const wasm = new RenewedInstance<{ decode: () => number }>(runtime, HEADER_FAST_WASM, 1);
  return {
    wasm,
    block: new Uint8Array(wasm.buffer, 0, 512),
    numbers: new Float64Array(wasm.buffer, NUMBERS_AT, NUMBER_COUNT),
    ints: new Int32Array(wasm.buffer, INTS_AT, 4),
  };
}

/** The header in `block` (512 bytes), or undefined: then header.ts's decodeHeader must decode it. */
export function decodeCommonHeader(block: Buffer): RawHeader | undefined {
  if (decoder === undefined) decoder = makeDecoder();
  if (decoder === null) return undefined;
  const { numbers: n, ints } = decoder;
  decoder.block.set(block);
  if (decoder.wasm.exports().decode() !== 0) return undefined;
  const prefixLength = ints[3]!;
  const nameLength = ints[1]!;
  const linkLength = ints[2]!;
  const name =
    prefixLength === 0 ? block.subarray(0, nameLength) : Buffer.concat([block.subarray(345, 345 + prefixLength), SLASH, block.subarray(0, nameLength)]);
  const typeByte = block[156]!;
  return {
    name,
    linkname: linkLength === 0 ? EMPTY : block.subarray(157, 157 + linkLength),
    mode: n[0]! & 0o7777,
    uid: n[1]!,
    gid: n[2]!,
    size: n[3]!,
    mtime: n[4]!,
    atime: n[5]!,
    ctime: n[6]!,
    typeflag: typeByte === 0 ? '0' : String.fromCharCode(typeByte),
    devmajor: n[7]!,
    devminor: n[8]!,
    format: FORMATS[ints[0]!]!,
  };
}
