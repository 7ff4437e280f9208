// kernel32.dll: freeing HCS result strings, and the std pipes of guest processes.
// HCS documents say result documents are freed with LocalFree (hcsshim uses
// CoTaskMemFree; the docs are followed here). ReadFile/WriteFile block, so
// callers use them with `.async` only. A FALSE from ReadFile is
// taken as the end of the stream (ERROR_BROKEN_PIPE when the writer closed):
// GetLastError is not reliable across koffi's call boundary.

/** @type {import('./function-def.js').LibraryDef} */
export const KERNEL32 = {
  library: 'kernel32.dll',
  functions: [
    { decl: 'void * __stdcall LocalFree(void *mem)' },
    { decl: 'BOOL __stdcall ReadFile(HANDLE file, void *buffer, DWORD bytesToRead, _Out_ DWORD *bytesRead, void *overlapped)' },
    { decl: 'BOOL __stdcall WriteFile(HANDLE file, const void *buffer, DWORD bytesToWrite, _Out_ DWORD *bytesWritten, void *overlapped)' },
    { decl: 'BOOL __stdcall CloseHandle(HANDLE object)' },
  ],
};
