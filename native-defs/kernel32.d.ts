import type { LibraryDef } from './function-def.js';
export declare const KERNEL32: LibraryDef;
