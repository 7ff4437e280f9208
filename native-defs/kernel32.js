// kernel32.dll: freeing HCS result strings, and closing virtdisk handles.
// HCS documents say result documents are freed with LocalFree (hcsshim uses
// CoTaskMemFree; the docs are followed here).

/** @type {import('./function-def.js').LibraryDef} */
export const KERNEL32 = {
  library: 'kernel32.dll',
  functions: [{ decl: 'void * __stdcall LocalFree(void *mem)' }, { decl: 'BOOL __stdcall CloseHandle(HANDLE object)' }],
};
