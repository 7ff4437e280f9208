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

/** Where the module leaves its results (see the .wat): nine f64 fields, four i32, then the nine fields again as i32 where small. */
const NUMBERS_AT = 512;
const NUMBER_COUNT = 9;
const INTS_AT = NUMBERS_AT + NUMBER_COUNT * 8;
const SMALL_AT = INTS_AT + 4 * 4;
const FORMATS: readonly TarFormat[] = ['v7', 'ustar', 'gnu'];
const SLASH = Buffer.from('/');
const EMPTY = Buffer.alloc(0);

interface Decoder {
  wasm: RenewedInstance<{ decode: () => number }>;
  block: Uint8Array;
  numbers: Float64Array;
  ints: Int32Array;
  /**
   * The numeric fields as i32 where below 2^30, else -1. Why both: a number
   * read from a Float64Array is a heap number to the baseline tier, even a
   * small integer, and so is every result computed from it after (a size's
   * block count, its padding, ...): read from here, a small field is a small
   * integer, and what follows from it allocates nothing (issue 11).
   */
  small: Int32Array;
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
    small: new Int32Array(wasm.buffer, SMALL_AT, NUMBER_COUNT),
  };
}

/** Numeric field `i`: from the i32 copy when it is there (Decoder.small says why). */
function field(small: Int32Array, n: Float64Array, i: number): number {
  const v = small[i]!;
  return v >= 0 ? v : n[i]!;
}

/** A RawHeader for decodeCommonHeader to fill in place (one per reader: see there). */
export function rawHeaderScratch(): RawHeader {
  return {
    name: EMPTY,
    linkname: EMPTY,
    mode: 0,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    atime: 0,
    ctime: 0,
    typeflag: '0',
    devmajor: 0,
    devminor: 0,
    format: 'ustar',
  };
}

/**
 * The header in `block` (512 bytes), or undefined: then header.ts's
 * decodeHeader must decode it. With `into`, its fields are filled in place
 * and it is returned: a reader decodes one header at a time and keeps
 * nothing of it past the entry it builds, so one object serves every member
 * (a fresh one was the reader's largest allocation per member, issue 11).
 */
export function decodeCommonHeader(block: Buffer, into?: RawHeader): RawHeader | undefined {
  if (decoder === undefined) decoder = makeDecoder();
  if (decoder === null) return undefined;
  const { numbers: n, ints, small } = decoder;
  decoder.block.set(block);
  if (decoder.wasm.exports().decode() !== 0) return undefined;
  const prefixLength = ints[3]!;
  const nameLength = ints[1]!;
  const linkLength = ints[2]!;
  const name =
    prefixLength === 0 ? block.subarray(0, nameLength) : Buffer.concat([block.subarray(345, 345 + prefixLength), SLASH, block.subarray(0, nameLength)]);
  const typeByte = block[156]!;
  const h = into ?? rawHeaderScratch();
  h.name = name;
  h.linkname = linkLength === 0 ? EMPTY : block.subarray(157, 157 + linkLength);
  h.mode = field(small, n, 0) & 0o7777;
  h.uid = field(small, n, 1);
  h.gid = field(small, n, 2);
  h.size = field(small, n, 3);
  h.mtime = field(small, n, 4);
  h.atime = field(small, n, 5);
  h.ctime = field(small, n, 6);
  h.typeflag = typeByte === 0 ? '0' : String.fromCharCode(typeByte);
  h.devmajor = field(small, n, 7);
  h.devminor = field(small, n, 8);
  h.format = FORMATS[ints[0]!]!;
  return h;
}
