// virtdisk.dll prototypes. These return a Win32 error code (DWORD), not an
// HRESULT. Source: learn.microsoft.com virtdisk reference; go-winio vhd/vhd.go.

/** @type {import('./function-def.js').LibraryDef} */
export const VIRTDISK = {
  library: 'virtdisk.dll',
  functions: [
    {
      decl: 'DWORD __stdcall CreateVirtualDisk(VIRTUAL_STORAGE_TYPE *virtualStorageType, PCWSTR path, VIRTUAL_DISK_ACCESS_MASK virtualDiskAccessMask, void *securityDescriptor, CREATE_VIRTUAL_DISK_FLAG flags, ULONG providerSpecificFlags, CREATE_VIRTUAL_DISK_PARAMETERS *parameters, void *overlapped, _Out_ HANDLE *handle)',
    },
    {
      decl: 'DWORD __stdcall OpenVirtualDisk(VIRTUAL_STORAGE_TYPE *virtualStorageType, PCWSTR path, VIRTUAL_DISK_ACCESS_MASK virtualDiskAccessMask, OPEN_VIRTUAL_DISK_FLAG flags, OPEN_VIRTUAL_DISK_PARAMETERS *parameters, _Out_ HANDLE *handle)',
    },
    {
      decl: 'DWORD __stdcall AttachVirtualDisk(HANDLE virtualDiskHandle, void *securityDescriptor, ATTACH_VIRTUAL_DISK_FLAG flags, ULONG providerSpecificFlags, ATTACH_VIRTUAL_DISK_PARAMETERS *parameters, void *overlapped)',
    },
    { decl: 'DWORD __stdcall DetachVirtualDisk(HANDLE virtualDiskHandle, DETACH_VIRTUAL_DISK_FLAG flags, ULONG providerSpecificFlags)' },
    // DiskPath is a caller-owned buffer of *diskPathSizeInBytes bytes.
    { decl: 'DWORD __stdcall GetVirtualDiskPhysicalPath(HANDLE virtualDiskHandle, _Inout_ ULONG *diskPathSizeInBytes, void *diskPath)' },
  ],
};
