// WebAssembly text → binary with wabt (a devDependency): shared by
// build-wasm.mjs and the test that checks the committed bytes.
import wabtInit from 'wabt';

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
