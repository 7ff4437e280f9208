/**
 * The lane hash of a digest segment (lane-hash.wat), and the memory it runs
 * on. Sixteen 32-bit lanes, lane i starting at 0x9E3779B1 × (i + 1); each
 * 64-byte stripe's word i (little-endian) goes to lane i through xxHash32's
 * round, acc = rotl(acc + word × 0x85EBCA77, 13) × 0x9E3779B1 (mod 2^32); a
 * short last stripe is zero-padded. In WebAssembly (SIMD, Liftoff's code)
 * it runs at ~12 GiB/s on this project's machine, against `zlib.crc32`'s
 * 4.7 GiB/s — but only over bytes already in the module's memory (a copy
 * would cost what it saves). So the converter's read buffers live there:
 * `takeHashableBuffers` hands out 512 KiB slots of the same memory, and
 * `readFileChunks` reads into them; anything else is copied through a
 * scratch area. Without WebAssembly the same function runs in JavaScript.
 */
import { RenewedInstance, WASM_PAGE, wasmRuntime } from '../wasm.js';
import { LANE_HASH_WASM } from './lane-hash-wasm.js';

export const STRIPE = 64;
export const LANES_BYTES = 64;
const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;

/** Memory layout: the lanes at 0, a 64 KiB copy area from 64 KiB, then the slots. */
const SCRATCH_AT = WASM_PAGE;
const SCRATCH_BYTES = WASM_PAGE;
const SLOT_BYTES = 512 * 1024;
const SLOTS = 8;
const SLOTS_AT = 2 * WASM_PAGE;
const PAGES = (SLOTS_AT + SLOTS * SLOT_BYTES) / WASM_PAGE;

/** The lanes a segment starts from. */
export function initialLanes(): Buffer {
  const lanes = Buffer.allocUnsafe(LANES_BYTES);
  for (let i = 0; i < 16; i++) lanes.writeUInt32LE(Math.imul(P1, i + 1) >>> 0, i * 4);
  return lanes;
}

interface Runner {
  wasm: RenewedInstance<{ absorb: (ptr: number, len: number) => void }>;
  bytes: Uint8Array;
  freeSlots: number[];
}

let runner: Runner | null | undefined;

function getRunner(): Runner | null {
  if (runner === undefined) {
    const runtime = wasmRuntime();
    runner = runtime ? { wasm: new RenewedInstance(runtime, LANE_HASH_WASM, PAGES), bytes: new Uint8Array(0), freeSlots: [] } : null;
    if (runner) {
      runner.bytes = new Uint8Array(runner.wasm.buffer);
      for (let i = SLOTS - 1; i >= 0; i--) runner.freeSlots.push(SLOTS_AT + i * SLOT_BYTES);
    }
  }
  return runner;
}

/**
 * `count` buffers of `size` bytes in the hash's memory (hashed there in place), or
 * undefined when there is no WebAssembly, the size is not a slot's, or the slots are taken
 * (another conversion in this thread): then the caller allocates its own.
 */
export function takeHashableBuffers(count: number, size: number): Buffer[] | undefined {
  const r = getRunner();
  if (!r || size !== SLOT_BYTES || r.freeSlots.length < count) return undefined;
  return r.freeSlots.splice(r.freeSlots.length - count, count).map((at) => Buffer.from(r.wasm.buffer, at, size));
}

/** Give back what takeHashableBuffers handed out (its buffers must not be used after). */
export function releaseHashableBuffers(buffers: Buffer[]): void {
  const r = getRunner();
  if (!r) return;
  for (const b of buffers) if (b.buffer === r.wasm.buffer) r.freeSlots.push(b.byteOffset);
}

/**
 * Absorb whole stripes: `lanes` (64 bytes) updated with `bytes[start, start + length)`,
 * `length` a multiple of 64.
 */
export function absorbStripes(lanes: Buffer, bytes: Buffer, start: number, length: number): void {
  const r = getRunner();
  if (!r) return absorbInJs(lanes, bytes, start, length);
  const mem = r.bytes;
  mem.set(lanes, 0);
  if (bytes.buffer === r.wasm.buffer) {
    r.wasm.exports().absorb(bytes.byteOffset + start, length);
  } else {
    for (let off = 0; off < length; off += SCRATCH_BYTES) {
      const n = Math.min(SCRATCH_BYTES, length - off);
      mem.set(bytes.subarray(start + off, start + off + n), SCRATCH_AT);
      r.wasm.exports().absorb(SCRATCH_AT, n);
    }
  }
  lanes.set(mem.subarray(0, LANES_BYTES));
}

/** The same function in JavaScript, for a runtime without WebAssembly. */
export function absorbInJs(lanes: Buffer, bytes: Buffer, start: number, length: number): void {
  const acc = new Uint32Array(16);
  for (let i = 0; i < 16; i++) acc[i] = lanes.readUInt32LE(i * 4);
  for (let at = start; at < start + length; at += STRIPE) {
    for (let i = 0; i < 16; i++) {
      const v = (acc[i]! + Math.imul(bytes.readUInt32LE(at + i * 4), P2)) >>> 0;
      acc[i] = Math.imul((v << 13) | (v >>> 19), P1);
    }
  }
  for (let i = 0; i < 16; i++) lanes.writeUInt32LE(acc[i]!, i * 4);
}
