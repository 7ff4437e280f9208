// Registers types.js with koffi: once per thread, since koffi keeps type
// names in a per-thread registry and registering a name twice throws
// ("Duplicate type name"). Module state cannot guard that (a test runner may
// evaluate a module again), so the registry itself is asked whether the last
// type of the table is already there. koffi is handed in: native-defs loads
// nothing itself.
import { declaredName } from './function-def.js';
import { ALIASES, CALLBACKS, HANDLES, STRUCTS } from './types.js';

const SENTINEL = declaredName(CALLBACKS.at(-1) ?? '');

/**
 * Register every alias, handle, struct and callback prototype; safe to call repeatedly.
 * @param {import('./register.js').KoffiTypes} koffi
 */
export function registerNativeTypes(koffi) {
  try {
    koffi.type(SENTINEL);
    return;
  } catch {
    // not registered on this thread yet
  }
  for (const [name, type] of ALIASES) koffi.alias(name, type);
  for (const name of HANDLES) koffi.pointer(name, koffi.opaque());
  for (const s of STRUCTS) koffi.struct(s.name, Object.fromEntries(s.fields));
  for (const decl of CALLBACKS) koffi.proto(decl);
}
