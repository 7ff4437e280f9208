import type koffi from 'koffi';
export type KoffiTypes = Pick<typeof koffi, 'alias' | 'pointer' | 'opaque' | 'struct' | 'proto' | 'type'>;
/** Register every alias, handle, struct and callback prototype of types.js; safe to call repeatedly (once per thread takes effect). */
export declare function registerNativeTypes(koffi: KoffiTypes): void;
