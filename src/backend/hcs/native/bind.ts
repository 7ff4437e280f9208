/**
 * Binds a native-defs function table to a loaded library.
 *
 * Required exports are bound at load, so a wrong DLL fails at once. Optional
 * ones (newer than the oldest supported Windows) are bound on first access
 * and read as undefined when the export is missing, never a throw at load.
 */
import koffi from 'koffi';
import type { LibraryDef } from '../../../../native-defs/function-def.js';
import { LcowError } from '../../../errors.js';
import { declaredName, ensureNativeTypes } from './types.js';

export type BoundFunction = ReturnType<ReturnType<typeof koffi.load>['func']>;

/** koffi's message when the file cannot be opened (no `.code` on it). */
const LOAD_FAILURE = /^Failed to load shared library/;

export function loadLibrary(path: string): ReturnType<typeof koffi.load> {
  ensureNativeTypes();
  try {
    return koffi.load(path);
  } catch (err) {
    const missing = err instanceof Error && LOAD_FAILURE.test(err.message);
    throw new LcowError(missing ? 'EPLATFORM' : 'EHCS', `cannot load ${path}`, { library: path }, { cause: err });
  }
}

/** An object with one property per exported function; optional ones are lazy getters. */
export function bindLibrary(path: string, def: LibraryDef): Record<string, BoundFunction | undefined> {
  const lib = loadLibrary(path);
  const out: Record<string, BoundFunction | undefined> = {};
  for (const fn of def.functions) {
    const name = declaredName(fn.decl);
    if (!fn.optional) {
      out[name] = lib.func(fn.decl);
      continue;
    }
    let bound: BoundFunction | undefined | null = null;
    Object.defineProperty(out, name, {
      enumerable: true,
      get() {
        if (bound === null) {
          try {
            bound = lib.func(fn.decl);
          } catch {
            bound = undefined; // "Cannot find function 'X' in shared library"
          }
        }
        return bound;
      },
    });
  }
  return out;
}
