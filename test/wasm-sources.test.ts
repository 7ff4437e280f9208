/**
 * The WebAssembly modules the library runs are the ones their .wat sources
 * assemble to (`npm run build:wasm` writes the base64 files; wabt judges the
 * text, and V8 validates the bytes when it compiles them).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WASM_SOURCES, assembleWat } from '../scripts/assemble-wat.mjs';

const repo = resolve(import.meta.dirname, '..');

describe('WebAssembly sources', () => {
  for (const { wat, ts, name } of WASM_SOURCES) {
    it(`${ts} holds ${wat}, assembled`, async () => {
      const bytes = await assembleWat(readFileSync(join(repo, wat), 'utf8'), wat);
      const mod = (await import(join(repo, ts))) as Record<string, string>;
      expect(mod[name]).toBe(bytes.toString('base64'));
      const wasm = (globalThis as unknown as { WebAssembly: { validate: (b: Uint8Array) => boolean } }).WebAssembly;
      expect(wasm.validate(bytes)).toBe(true);
    });
  }
});
