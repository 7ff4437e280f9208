// WebAssembly text → binary with wabt (a devDependency): shared by
// build-wasm.mjs and the test that checks the committed bytes.
import wabtInit from 'wabt';

/** The project's WebAssembly sources, each with the TypeScript file holding its bytes and the constant's name. */
export const WASM_SOURCES = [
  { wat: 'src/tar/header-fast.wat', ts: 'src/tar/header-fast-wasm.ts', name: 'HEADER_FAST_WASM' },
  { wat: 'src/digest/lane-hash.wat', ts: 'src/digest/lane-hash-wasm.ts', name: 'LANE_HASH_WASM' },
];

/**
 * @param {string} text
 * @param {string} name
 * @returns {Promise<Buffer>}
 */
export async function assembleWat(text, name) {
  const wabt = await wabtInit();
  const module = wabt.parseWat(name, text);
  try {
    module.validate();
    return Buffer.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}
