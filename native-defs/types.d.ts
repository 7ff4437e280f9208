export interface StructDef {
  readonly name: string;
  /** [field name, koffi type] in memory order. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
}
export declare const ALIASES: ReadonlyArray<readonly [string, string]>;
export declare const HANDLES: readonly string[];
export declare const STRUCTS: readonly StructDef[];
export declare const CALLBACKS: readonly string[];
