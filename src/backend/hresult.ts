/**
 * HRESULTs: names for the codes HCS and hcsshim's guest compute service
 * answer with, shared by the hcs backend and the GCS bridge client. Callers
 * branch on the name in an error's context, never on its message.
 */
/** HCS_E_* (winerror.h / HCSHResult.md), the generic HRESULTs HCS passes through, and the GCS's own. */
export const HRESULT_NAMES: Readonly<Record<number, string>> = {
  0x80370100: 'HCS_E_TERMINATED_DURING_START',
  0x80370101: 'HCS_E_IMAGE_MISMATCH',
  0x80370102: 'HCS_E_HYPERV_NOT_INSTALLED',
  0x80370105: 'HCS_E_INVALID_STATE',
  0x80370106: 'HCS_E_UNEXPECTED_EXIT',
  0x80370107: 'HCS_E_TERMINATED',
  0x80370108: 'HCS_E_CONNECT_FAILED',
  0x80370109: 'HCS_E_CONNECTION_TIMEOUT',
  0x8037010a: 'HCS_E_CONNECTION_CLOSED',
  0x8037010b: 'HCS_E_UNKNOWN_MESSAGE',
  0x8037010c: 'HCS_E_UNSUPPORTED_PROTOCOL_VERSION',
  0x8037010d: 'HCS_E_INVALID_JSON',
  0x8037010e: 'HCS_E_SYSTEM_NOT_FOUND',
  0x8037010f: 'HCS_E_SYSTEM_ALREADY_EXISTS',
  0x80370110: 'HCS_E_SYSTEM_ALREADY_STOPPED',
  0x80370111: 'HCS_E_PROTOCOL_ERROR',
  0x80370112: 'HCS_E_INVALID_LAYER',
  0x80370113: 'HCS_E_WINDOWS_INSIDER_REQUIRED',
  0x80370114: 'HCS_E_SERVICE_NOT_AVAILABLE',
  0x80370115: 'HCS_E_OPERATION_NOT_STARTED',
  0x80370116: 'HCS_E_OPERATION_ALREADY_STARTED',
  0x80370117: 'HCS_E_OPERATION_PENDING',
  0x80370118: 'HCS_E_OPERATION_TIMEOUT',
  0x80370119: 'HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET',
  0x8037011a: 'HCS_E_OPERATION_RESULT_ALLOCATION_FAILED',
  0x8037011b: 'HCS_E_ACCESS_DENIED',
  0x8037011c: 'HCS_E_GUEST_CRITICAL_ERROR',
  0x8037011d: 'HCS_E_PROCESS_INFO_NOT_AVAILABLE',
  0x8037011e: 'HCS_E_SERVICE_DISCONNECT',
  0x8037011f: 'HCS_E_PROCESS_ALREADY_STOPPED',
  0x80370120: 'HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION',
  0x80370121: 'HCS_E_OPERATION_ALREADY_CANCELLED',
  0x80004001: 'E_NOTIMPL',
  0x80004003: 'E_POINTER',
  0x80004004: 'E_ABORT',
  0x80004005: 'E_FAIL',
  0x8000ffff: 'E_UNEXPECTED',
  // What hcsshim's Linux GCS answers over its bridge (internal/guest/gcserr).
  0xc0370109: 'VMCOMPUTE_E_TIMEOUT',
  0xc037010b: 'VMCOMPUTE_E_UNKNOWN_MESSAGE',
  0xc037010c: 'VMCOMPUTE_E_UNSUPPORTED_PROTOCOL_VERSION',
  0xc037010d: 'VMCOMPUTE_E_INVALID_JSON',
  0xc037010e: 'VMCOMPUTE_E_SYSTEM_NOT_FOUND',
  0xc037010f: 'VMCOMPUTE_E_SYSTEM_ALREADY_EXISTS',
};

/** The Win32 errors worth a name in a log line. */
export const WIN32_NAMES: Readonly<Record<number, string>> = {
  2: 'ERROR_FILE_NOT_FOUND',
  3: 'ERROR_PATH_NOT_FOUND',
  5: 'ERROR_ACCESS_DENIED',
  6: 'ERROR_INVALID_HANDLE',
  8: 'ERROR_NOT_ENOUGH_MEMORY',
  14: 'ERROR_OUTOFMEMORY',
  32: 'ERROR_SHARING_VIOLATION',
  80: 'ERROR_FILE_EXISTS',
  87: 'ERROR_INVALID_PARAMETER',
  109: 'ERROR_BROKEN_PIPE',
  122: 'ERROR_INSUFFICIENT_BUFFER',
  183: 'ERROR_ALREADY_EXISTS',
  1168: 'ERROR_NOT_FOUND',
  1223: 'ERROR_CANCELLED',
  1460: 'ERROR_TIMEOUT',
};

export const HCS_E_OPERATION_TIMEOUT = 0x80370118;
export const HCS_E_SYSTEM_ALREADY_STOPPED = 0x80370110;
export const HCS_E_SYSTEM_NOT_FOUND = 0x8037010e;

const FACILITY_WIN32 = 0x00070000;

/** Win32 code inside an HRESULT of FACILITY_WIN32 (hcsshim interop.Win32FromHresult), else undefined. */
export function win32FromHresult(hr: number): number | undefined {
  return (hr & 0x1fff0000) === FACILITY_WIN32 ? hr & 0xffff : undefined;
}

export function hresultHex(hr: number): string {
  return `0x${(hr >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

export function hresultName(hr: number): string | undefined {
  const u = hr >>> 0;
  const known = HRESULT_NAMES[u];
  if (known) return known;
  const w = win32FromHresult(u);
  return w === undefined ? undefined : `HRESULT_FROM_WIN32(${WIN32_NAMES[w] ?? w})`;
}

export function failed(hr: number): boolean {
  return hr < 0 || hr >>> 0 >= 0x80000000;
}
