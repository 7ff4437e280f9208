import type { LibraryDef } from './function-def.js';
export declare const VIRTDISK: LibraryDef;
