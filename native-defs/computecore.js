// computecore.dll (HCS schema v2) prototypes, as koffi parses them.
// Source: learn.microsoft.com/virtualization/api/hcs/reference, cross-checked
// with hcsshim internal/computecore/computecore.go. Every function is WINAPI
// (__stdcall matters only on x86-32). Returned strings are `_Out_ void **`
// so the caller decodes the UTF-16 and frees it with LocalFree itself (see
// src/backend/hcs/native/wide-string.ts): HCS allocates them, not the C runtime.

/** @type {import('./function-def.js').LibraryDef} */
export const COMPUTECORE = {
  library: 'computecore.dll',
  functions: [
    // Operations: the completion of every asynchronous call.
    { decl: 'HCS_OPERATION __stdcall HcsCreateOperation(void *context, HCS_OPERATION_COMPLETION *callback)' },
    { decl: 'void __stdcall HcsCloseOperation(HCS_OPERATION operation)' },
    { decl: 'HRESULT __stdcall HcsWaitForOperationResult(HCS_OPERATION operation, DWORD timeoutMs, _Out_ void **resultDocument)' },
    { decl: 'HRESULT __stdcall HcsSetOperationCallback(HCS_OPERATION operation, void *context, HCS_OPERATION_COMPLETION *callback)' },
    { decl: 'HRESULT __stdcall HcsCancelOperation(HCS_OPERATION operation)' },
    // Compute systems.
    {
      decl: 'HRESULT __stdcall HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HCS_OPERATION operation, void *securityDescriptor, _Out_ HCS_SYSTEM *computeSystem)',
    },
    { decl: 'HRESULT __stdcall HcsOpenComputeSystem(PCWSTR id, DWORD requestedAccess, _Out_ HCS_SYSTEM *computeSystem)' },
    { decl: 'void __stdcall HcsCloseComputeSystem(HCS_SYSTEM computeSystem)' },
    { decl: 'HRESULT __stdcall HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)' },
    // Capital D in ShutDown: v2 spelling (v1 vmcompute.dll has HcsShutdownComputeSystem).
    { decl: 'HRESULT __stdcall HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)' },
    { decl: 'HRESULT __stdcall HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options)' },
    { decl: 'HRESULT __stdcall HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR configuration, HANDLE identity)' },
    { decl: 'HRESULT __stdcall HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR propertyQuery)' },
    {
      decl: 'HRESULT __stdcall HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, HCS_EVENT_OPTIONS callbackOptions, void *context, HCS_EVENT_CALLBACK *callback)',
    },
    { decl: 'HRESULT __stdcall HcsWaitForComputeSystemExit(HCS_SYSTEM computeSystem, DWORD timeoutMs, _Out_ void **result)', optional: true },
    { decl: 'HRESULT __stdcall HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION operation)' },
    { decl: 'HRESULT __stdcall HcsGrantVmAccess(PCWSTR vmId, PCWSTR filePath)' },
    // No process functions: processes in an LCOW utility VM run through its GCS (hcsshim never uses
    // HcsCreateProcess for one), over the hvsock bridge (src/backend/hcs/guest-link.ts).
  ],
};
