import type { LibraryDef } from './function-def.js';
export declare const COMPUTECORE: LibraryDef;
