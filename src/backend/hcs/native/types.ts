/**
 * The native-defs type table, registered with this thread's koffi (koffi's
 * type names are per thread; register.js makes a second registration a no-op).
 */
import koffi from 'koffi';
import { registerNativeTypes } from '../../../../native-defs/register.js';

export { declaredName } from '../../../../native-defs/function-def.js';

export type KoffiType = ReturnType<typeof koffi.type>;

/** Register every alias, handle, struct and callback prototype; safe to call repeatedly. */
export function ensureNativeTypes(): void {
  registerNativeTypes(koffi);
}

/** A registered type by name (after ensureNativeTypes). */
export function nativeType(name: string): KoffiType {
  ensureNativeTypes();
  return koffi.type(name);
}
