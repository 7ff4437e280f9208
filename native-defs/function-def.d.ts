/** One exported function: a C-like prototype koffi parses, and whether the export may be missing. */
export interface FunctionDef {
  /** e.g. 'HRESULT __stdcall HcsCancelOperation(HCS_OPERATION operation)'. */
  readonly decl: string;
  /** Newer export (Server 2022+): bound lazily, absent → undefined rather than a throw at load. */
  readonly optional?: boolean;
}
export interface LibraryDef {
  /** File name searched on Windows (under %SystemRoot%\System32). */
  readonly library: string;
  readonly functions: readonly FunctionDef[];
}
/** Name of a C prototype declaration ('HRESULT __stdcall NAME(...)'). */
export declare function declaredName(decl: string): string;
