// Koffi type declarations shared by computecore.dll, virtdisk.dll, kernel32.dll
// and ws2_32.dll.
//
// Plain data, no koffi import: register.js registers these with the koffi a
// thread hands it (koffi's type names are per thread: the main thread and the
// hvsock worker each register their own), and test/backend/hcs checks every
// size and offset against the Win64 layout on Linux (koffi lays structs out
// the same way on both). Kept as .js + .d.ts so the package ships them as
// they are: the build compiles src/ only.

/** Scalar aliases: [name, koffi type]. HRESULT/DWORD/ULONG/BOOL are 32-bit on Windows (never `long`: 8 bytes on Linux). */
export const ALIASES = [
  ['HRESULT', 'int32_t'],
  ['WORD', 'uint16_t'],
  ['DWORD', 'uint32_t'],
  ['ULONG', 'uint32_t'],
  ['BOOL', 'int32_t'],
  ['ULONGLONG', 'uint64_t'],
  ['HCS_EVENT_OPTIONS', 'uint32_t'],
  ['HCS_EVENT_TYPE', 'uint32_t'],
  ['VIRTUAL_DISK_ACCESS_MASK', 'uint32_t'],
  ['CREATE_VIRTUAL_DISK_FLAG', 'uint32_t'],
  ['OPEN_VIRTUAL_DISK_FLAG', 'uint32_t'],
  ['ATTACH_VIRTUAL_DISK_FLAG', 'uint32_t'],
  ['DETACH_VIRTUAL_DISK_FLAG', 'uint32_t'],
  // NUL-terminated UTF-16. char16_t, not wchar_t: wchar_t is UTF-32 on Linux.
  ['PCWSTR', 'const char16_t *'],
  ['HANDLE', 'void *'],
  // Winsock's SOCKET is a UINT_PTR: 8 bytes on Win64, INVALID_SOCKET is all ones.
  ['SOCKET', 'uintptr_t'],
];

/** Opaque handle types (pointers to an opaque struct; bigint or null in JS). */
export const HANDLES = ['HCS_OPERATION', 'HCS_SYSTEM'];

/**
 * Structs in dependency order; fields as [name, type] in memory order.
 * The virtdisk parameter structs are a Version word followed by a union of
 * per-version arms; only the Version2 arm is declared (the one this code
 * fills), which gives the same size and offsets as the SDK's union for v2.
 */
export const STRUCTS = [
  {
    name: 'GUID',
    fields: [
      ['Data1', 'uint32_t'],
      ['Data2', 'uint16_t'],
      ['Data3', 'uint16_t'],
      ['Data4', 'uint8_t[8]'],
    ],
  },
  {
    name: 'HCS_EVENT',
    fields: [
      ['Type', 'HCS_EVENT_TYPE'],
      ['EventData', 'PCWSTR'],
      ['Operation', 'HCS_OPERATION'],
    ],
  },
  {
    name: 'VIRTUAL_STORAGE_TYPE',
    fields: [
      ['DeviceId', 'ULONG'],
      ['VendorId', 'GUID'],
    ],
  },
  {
    name: 'CREATE_VIRTUAL_DISK_PARAMETERS_VERSION2',
    fields: [
      ['UniqueId', 'GUID'],
      ['MaximumSize', 'ULONGLONG'],
      ['BlockSizeInBytes', 'ULONG'],
      ['SectorSizeInBytes', 'ULONG'],
      ['PhysicalSectorSizeInBytes', 'ULONG'],
      ['ParentPath', 'PCWSTR'],
      ['SourcePath', 'PCWSTR'],
      ['OpenFlags', 'OPEN_VIRTUAL_DISK_FLAG'],
      ['ParentVirtualStorageType', 'VIRTUAL_STORAGE_TYPE'],
      ['SourceVirtualStorageType', 'VIRTUAL_STORAGE_TYPE'],
      ['ResiliencyGuid', 'GUID'],
    ],
  },
  {
    name: 'CREATE_VIRTUAL_DISK_PARAMETERS',
    fields: [
      ['Version', 'ULONG'],
      ['Version2', 'CREATE_VIRTUAL_DISK_PARAMETERS_VERSION2'],
    ],
  },
  {
    name: 'OPEN_VIRTUAL_DISK_PARAMETERS_VERSION2',
    fields: [
      ['GetInfoOnly', 'BOOL'],
      ['ReadOnly', 'BOOL'],
      ['ResiliencyGuid', 'GUID'],
    ],
  },
  {
    name: 'OPEN_VIRTUAL_DISK_PARAMETERS',
    fields: [
      ['Version', 'ULONG'],
      ['Version2', 'OPEN_VIRTUAL_DISK_PARAMETERS_VERSION2'],
    ],
  },
  {
    name: 'ATTACH_VIRTUAL_DISK_PARAMETERS_VERSION2',
    fields: [
      ['RestrictedOffset', 'ULONGLONG'],
      ['RestrictedLength', 'ULONGLONG'],
    ],
  },
  {
    name: 'ATTACH_VIRTUAL_DISK_PARAMETERS',
    fields: [
      ['Version', 'ULONG'],
      ['Version2', 'ATTACH_VIRTUAL_DISK_PARAMETERS_VERSION2'],
    ],
  },
  // Winsock (ws2_32.dll), for the hvsock worker.
  {
    // AF_HYPERV's address: the VM (its RuntimeId, or a wildcard) and the service, each a GUID (hvsocket.h).
    name: 'SOCKADDR_HV',
    fields: [
      ['Family', 'uint16_t'],
      ['Reserved', 'uint16_t'],
      ['VmId', 'GUID'],
      ['ServiceId', 'GUID'],
    ],
  },
  {
    // One socket of a WSAPoll call; koffi pads it to 16 bytes like the SDK.
    name: 'WSAPOLLFD',
    fields: [
      ['fd', 'SOCKET'],
      ['events', 'int16_t'],
      ['revents', 'int16_t'],
    ],
  },
  {
    // Win64 order (the pointer comes after the shorts, unlike Win32's); filled by WSAStartup, never read here.
    name: 'WSADATA',
    fields: [
      ['wVersion', 'WORD'],
      ['wHighVersion', 'WORD'],
      ['iMaxSockets', 'uint16_t'],
      ['iMaxUdpDg', 'uint16_t'],
      ['lpVendorInfo', 'void *'],
      ['szDescription', 'char[257]'],
      ['szSystemStatus', 'char[129]'],
    ],
  },
];

/** Callback prototypes (registered once, long-lived; see src/backend/hcs/native/callbacks.ts). */
export const CALLBACKS = [
  'void __stdcall HCS_OPERATION_COMPLETION(HCS_OPERATION operation, void *context)',
  'void __stdcall HCS_EVENT_CALLBACK(HCS_EVENT *event, void *context)',
];
