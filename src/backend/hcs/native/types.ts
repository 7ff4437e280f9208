/**
 * Registers the native-defs type table with koffi, once per process.
 *
 * koffi keeps type names in a process-wide registry, and registering a name
 * twice throws ("Duplicate type name"). Module state is not enough to guard
 * that (a test runner may evaluate this module again), so the registry itself
 * is asked whether the last type of the table is already there.
 */
import koffi from 'koffi';
import { ALIASES, CALLBACKS, HANDLES, STRUCTS } from '../../../../native-defs/types.js';

export type KoffiType = ReturnType<typeof koffi.type>;

function isRegistered(name: string): boolean {
  try {
    koffi.type(name);
    return true;
  } catch {
    return false;
  }
}

/** Name of a callback prototype declaration ('void __stdcall NAME(...)'). */
export function declaredName(decl: string): string {
  const m = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/.exec(decl);
  if (!m) throw new Error(`not a C prototype: ${decl}`);
  return m[1]!;
}

const SENTINEL = declaredName(CALLBACKS.at(-1) ?? '');

/** Register every alias, handle, struct and callback prototype; safe to call repeatedly. */
export function ensureNativeTypes(): void {
  if (isRegistered(SENTINEL)) return;
  for (const [name, type] of ALIASES) koffi.alias(name, type);
  for (const name of HANDLES) koffi.pointer(name, koffi.opaque());
  for (const s of STRUCTS) koffi.struct(s.name, Object.fromEntries(s.fields));
  for (const decl of CALLBACKS) koffi.proto(decl);
}

/** A registered type by name (after ensureNativeTypes). */
export function nativeType(name: string): KoffiType {
  ensureNativeTypes();
  return koffi.type(name);
}
