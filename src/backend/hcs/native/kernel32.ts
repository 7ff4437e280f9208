/** Typed view of the kernel32 functions in native-defs/kernel32.js. */
import type { KoffiFunc } from 'koffi';
import { KERNEL32 } from '../../../../native-defs/kernel32.js';
import { bindLibrary } from './bind.js';
import type { Ptr } from './computecore.js';

export interface Kernel32Api {
  LocalFree: KoffiFunc<(mem: Ptr) => Ptr>;
  CloseHandle: KoffiFunc<(object: Ptr) => number>;
}

export function loadKernel32(path: string): Kernel32Api {
  return bindLibrary(path, KERNEL32) as unknown as Kernel32Api;
}
